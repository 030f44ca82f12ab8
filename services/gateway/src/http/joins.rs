//! Joining a group from outside: at once when it is open, through a join request the
//! owner or an admin approves or rejects when it needs approval, never when it is
//! invite-only. Join requests are addressed by the user who asked.

use super::json::OptionalJson;
use super::params::{ApiQuery, PageQuery, PathId, PathPair, check_text};
use super::views::{JoinRequestView, MemberView, Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    ApproveJoinRequestRequest, JoinGroupRequest, ListJoinRequestsRequest, Page,
    RejectJoinRequestRequest,
};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Far beyond the service's bound (200): refused here without asking it.
const MAX_MESSAGE_CHARS: usize = 1_000;
/// Pending requests looked through for one user's (pages of 100) before giving up.
const MAX_LOOKUP_PAGES: usize = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(join_group))
        .routes(routes!(list_join_requests))
        .routes(routes!(approve_join_request))
        .routes(routes!(reject_join_request))
}

/// The body may be left out.
#[derive(Default, Deserialize, ToSchema)]
pub struct JoinBody {
    /// A note for the owner and admins, at most 200 characters.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinStatus {
    /// The caller is a member now (`member`).
    Joined,
    /// A join request waits for the owner or an admin (`request`).
    Pending,
}

/// What asking to join did.
#[derive(Serialize, ToSchema)]
pub struct JoinOutcomeView {
    pub status: JoinStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<JoinRequestView>,
}

/// Ask to join a group: an open group is joined at once (200), one that needs approval
/// files the caller's join request, or refreshes it (202).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/join", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body(content = Option<JoinBody>, description = "May be left out"),
    responses(
        (status = 200, description = "Joined: `{status: \"joined\", member}`", body = JoinOutcomeView),
        (status = 202, description = "Waiting for approval: `{status: \"pending\", request}`", body = JoinOutcomeView),
        (status = 403, description = "The group is invite-only (`invite_only`)", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 409, description = "Already a member (`already_member`)", body = ErrorBody),
        (status = 422, description = "The group is full (`member_limit`)", body = ErrorBody),
    ))]
async fn join_group(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    OptionalJson(body): OptionalJson<JoinBody>,
) -> Result<(StatusCode, Json<JoinOutcomeView>), ApiError> {
    let message = body.message.unwrap_or_default();
    check_text(&message, MAX_MESSAGE_CHARS, "invalid_message")?;
    let request = JoinGroupRequest {
        conversation_id: id,
        user_id: me.user_id,
        message,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move { c.join_group(r).await })
        .await?;
    if response.joined {
        let member = MemberView::try_from(required(response.member, "member")?)?;
        let outcome = JoinOutcomeView {
            status: JoinStatus::Joined,
            member: Some(member),
            request: None,
        };
        return Ok((StatusCode::OK, Json(outcome)));
    }
    let request = required(response.join_request, "join_request")?;
    let outcome = JoinOutcomeView {
        status: JoinStatus::Pending,
        member: None,
        request: Some(request.into()),
    };
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}

/// A group's pending join requests, oldest first (owner or admins).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/join-requests", tag = "conversations",
    params(("id" = String, Path, description = "Conversation id"), PageQuery),
    responses(
        (status = 200, description = "One page of pending requests", body = Paged<JoinRequestView>),
        (status = 403, description = "The caller is not the owner or an admin", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
    ))]
async fn list_join_requests(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<JoinRequestView>>, ApiError> {
    let request = ListJoinRequestsRequest {
        conversation_id: id,
        actor_id: me.user_id,
        page: Some(query.page()?),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_join_requests(idempotent(r)).await
        })
        .await?;
    let items = response
        .join_requests
        .into_iter()
        .map(JoinRequestView::from)
        .collect();
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// The id of `user_id`'s pending request to join `conversation_id`, looked up as the
/// actor (who must be allowed to list them).
async fn pending_request_id(
    state: &AppState,
    conversation_id: &str,
    actor_id: &str,
    user_id: &str,
) -> Result<String, ApiError> {
    let mut cursor = String::new();
    for _ in 0..MAX_LOOKUP_PAGES {
        let request = ListJoinRequestsRequest {
            conversation_id: conversation_id.to_owned(),
            actor_id: actor_id.to_owned(),
            page: Some(Page {
                limit: 100,
                cursor: cursor.clone(),
            }),
        };
        let response = state
            .conversation
            .call(request, |mut c, r| async move {
                c.list_join_requests(idempotent(r)).await
            })
            .await?;
        if let Some(found) = response
            .join_requests
            .into_iter()
            .find(|request| request.user_id == user_id)
        {
            return Ok(found.id);
        }
        cursor = response.page_info.unwrap_or_default().next_cursor;
        if cursor.is_empty() {
            break;
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "join_request_not_found",
        format!("{user_id:?} has no pending request to join this group"),
    ))
}

/// Approve a user's pending join request: they become a member (owner or admins).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/join-requests/{user_id}/approve", tag = "conversations",
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The user who asked to join"),
    ),
    responses(
        (status = 200, description = "The request, now `approved`", body = JoinRequestView),
        (status = 403, description = "The caller is not the owner or an admin", body = ErrorBody),
        (status = 404, description = "No such conversation, or no pending request of that user", body = ErrorBody),
        (status = 422, description = "Decided meanwhile, or the group is full", body = ErrorBody),
    ))]
async fn approve_join_request(
    State(state): State<AppState>,
    me: Principal,
    PathPair(id, user_id): PathPair,
) -> Result<Json<JoinRequestView>, ApiError> {
    let request_id = pending_request_id(&state, &id, &me.user_id, &user_id).await?;
    let request = ApproveJoinRequestRequest {
        request_id,
        actor_id: me.user_id,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.approve_join_request(r).await
        })
        .await?;
    Ok(Json(
        required(response.join_request, "join_request")?.into(),
    ))
}

/// Reject a user's pending join request (owner or admins).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/join-requests/{user_id}/reject", tag = "conversations",
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The user who asked to join"),
    ),
    responses(
        (status = 200, description = "The request, now `rejected`", body = JoinRequestView),
        (status = 403, description = "The caller is not the owner or an admin", body = ErrorBody),
        (status = 404, description = "No such conversation, or no pending request of that user", body = ErrorBody),
        (status = 422, description = "Decided meanwhile", body = ErrorBody),
    ))]
async fn reject_join_request(
    State(state): State<AppState>,
    me: Principal,
    PathPair(id, user_id): PathPair,
) -> Result<Json<JoinRequestView>, ApiError> {
    let request_id = pending_request_id(&state, &id, &me.user_id, &user_id).await?;
    let request = RejectJoinRequestRequest {
        request_id,
        actor_id: me.user_id,
    };
    let response = state
        .conversation
        .call(
            request,
            |mut c, r| async move { c.reject_join_request(r).await },
        )
        .await?;
    Ok(Json(
        required(response.join_request, "join_request")?.into(),
    ))
}
