//! The caller's sessions (devices): list them, revoke one.

use super::params::PathId;
use super::views::{Paged, SessionView};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{ListSessionsRequest, RevokeSessionRequest};
use im_runtime::resilience::idempotent;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
}

/// The caller's live sessions; `current` marks the one asking.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    responses(
        (status = 200, description = "Every live session (one page)", body = Paged<SessionView>),
        (status = 401, description = "No valid access token", body = ErrorBody),
    ))]
async fn list_sessions(
    State(state): State<AppState>,
    me: Principal,
) -> Result<Json<Paged<SessionView>>, ApiError> {
    let request = ListSessionsRequest {
        user_id: me.user_id,
        current_session_id: me.session_id,
    };
    let response = state
        .identity
        .call(request, |mut c, r| async move {
            c.list_sessions(idempotent(r)).await
        })
        .await?;
    let items = response
        .sessions
        .into_iter()
        .map(SessionView::from)
        .collect();
    Ok(Json(Paged::new(items, None)))
}

/// Revoke one of the caller's sessions (log a device out).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such session of the caller", body = ErrorBody),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = RevokeSessionRequest {
        user_id: me.user_id.clone(),
        session_id: id.clone(),
    };
    state
        .identity
        .call(request, |mut c, r| async move { c.revoke_session(r).await })
        .await?;
    state.revoke_locally(&me.user_id, &id);
    Ok(StatusCode::NO_CONTENT)
}
