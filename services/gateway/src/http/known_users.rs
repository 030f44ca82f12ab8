//! The users a request names, checked against identity: the conversation service knows
//! ids only, so the edge makes sure a friend request, block, direct conversation or
//! invitation targets a real account, and fetches the profiles shown beside contacts.

use super::{ApiError, AppState};
use crate::identity::IdentityError;
use axum::http::StatusCode;
use im_contracts::v1::{GetUserRequest, GetUsersRequest, User};
use im_runtime::resilience::idempotent;
use std::collections::{HashMap, HashSet};
use tonic::Code;

/// The most ids identity's `GetUsers` takes at once.
const GET_USERS_BATCH: usize = 100;
/// The most unknown ids named in a 404's message.
const NAMED_UNKNOWN: usize = 5;

fn user_not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "user_not_found", message)
}

/// `user_id` is a live account: 404 `user_not_found` otherwise.
pub async fn require_user(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let request = GetUserRequest {
        user_id: user_id.to_owned(),
    };
    match state
        .identity
        .call(request, |mut c, r| async move {
            c.get_user(idempotent(r)).await
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(IdentityError(status)) if status.code() == Code::NotFound => {
            Err(user_not_found(format!("no user has the id {user_id:?}")))
        }
        Err(error) => Err(error.into()),
    }
}

/// Every one of `user_ids` is a live account: 404 `user_not_found` naming the first
/// few that are not.
pub async fn require_users(state: &AppState, user_ids: &[String]) -> Result<(), ApiError> {
    let found = profiles(state, user_ids).await?;
    let mut unknown: Vec<&str> = distinct(user_ids)
        .into_iter()
        .filter(|id| !found.contains_key(*id))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let more = unknown.len().saturating_sub(NAMED_UNKNOWN);
    unknown.truncate(NAMED_UNKNOWN);
    let mut message = format!("no user has the id {}", unknown.join(", "));
    if more > 0 {
        message.push_str(&format!(" (and {more} more)"));
    }
    Err(user_not_found(message))
}

/// The public profiles of those of `user_ids` that exist, by id.
pub async fn profiles(
    state: &AppState,
    user_ids: &[String],
) -> Result<HashMap<String, User>, IdentityError> {
    let ids = distinct(user_ids);
    let mut found = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(GET_USERS_BATCH) {
        let request = GetUsersRequest {
            user_ids: batch.iter().map(|id| (*id).to_owned()).collect(),
        };
        let response = state
            .identity
            .call(request, |mut c, r| async move {
                c.get_users(idempotent(r)).await
            })
            .await?;
        found.extend(
            response
                .users
                .into_iter()
                .map(|user| (user.id.clone(), user)),
        );
    }
    Ok(found)
}

/// Profiles shown beside other data: when identity cannot answer, the data is still
/// worth showing, without them (DESIGN.md section 6).
pub async fn profiles_if_available(state: &AppState, user_ids: &[String]) -> HashMap<String, User> {
    profiles(state, user_ids).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "profiles unavailable; answering without them");
        HashMap::new()
    })
}

/// The ids in order of first appearance, each once.
fn distinct(ids: &[String]) -> Vec<&str> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter()
        .map(String::as_str)
        .filter(|id| seen.insert(*id))
        .collect()
}
