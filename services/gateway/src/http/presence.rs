//! `GET /api/v1/presence?user_ids=`: the online status of up to 200 users, asked of
//! presence under its short deadline. With presence down the answer is 503
//! `presence_unavailable` with `Retry-After`: status unknown (DESIGN.md section 6), as
//! the `presence.subscribe` frame answers, never a guess of "offline".

use super::params::{ApiQuery, check_ids};
use super::views::PresenceView;
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use im_contracts::v1::GetPresenceRequest;
use im_runtime::ServiceName;
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Users one request may ask about (presence's own bound).
pub const MAX_USERS: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_presence))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// Comma-separated user ids, at most 200 distinct; absent or empty for none.
    pub user_ids: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresencePage {
    /// One per distinct user asked about, in the order asked.
    pub items: Vec<PresenceView>,
}

/// The distinct ids of a comma-separated list, in order.
fn user_ids(list: &str) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<String> = Vec::new();
    if !list.is_empty() {
        for id in list.split(',') {
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
            // Bounded before the (quadratic) dedupe can grow.
            if ids.len() > MAX_USERS {
                break;
            }
        }
    }
    check_ids(&ids, MAX_USERS)?;
    Ok(ids)
}

/// Whether each user is online, and when last seen.
#[utoipa::path(get, path = "/api/v1/presence", tag = "presence",
    params(PresenceQuery),
    responses(
        (status = 200, description = "The status of each user", body = PresencePage),
        (status = 400, description = "`too_many_users` (over 200) or `invalid_id`", body = ErrorBody),
        (status = 503, description = "`presence_unavailable`: status unknown for now (Retry-After)", body = ErrorBody),
    ))]
async fn get_presence(
    State(state): State<AppState>,
    _me: Principal,
    ApiQuery(query): ApiQuery<PresenceQuery>,
) -> Result<Json<PresencePage>, ApiError> {
    let user_ids = user_ids(query.user_ids.as_deref().unwrap_or_default())?;
    if user_ids.is_empty() {
        return Ok(Json(PresencePage { items: Vec::new() }));
    }
    let current = state
        .live
        .presence
        .call(GetPresenceRequest { user_ids }, |mut c, r| async move {
            c.get_presence(idempotent(r)).await
        })
        .await
        .map_err(|status| ApiError::from_status(ServiceName::Presence, &status))?;
    Ok(Json(PresencePage {
        items: current
            .presences
            .into_iter()
            .map(PresenceView::from)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_split_deduplicated_and_bounded() {
        assert_eq!(user_ids("").unwrap(), Vec::<String>::new());
        assert_eq!(user_ids("b,a,b").unwrap(), ["b", "a"]);
        assert_eq!(user_ids("a,,b").unwrap_err().code, "invalid_id");
        let many: Vec<String> = (0..=MAX_USERS).map(|i| format!("u{i}")).collect();
        assert_eq!(
            user_ids(&many.join(",")).unwrap_err().code,
            "too_many_users"
        );
        let repeated = vec!["u"; 1000].join(",");
        assert_eq!(user_ids(&repeated).unwrap(), ["u"]);
    }
}
