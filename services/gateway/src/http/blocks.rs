//! The caller's block list: a blocked user can send the caller neither friend requests
//! nor direct messages.

use super::known_users::require_user;
use super::params::{ApiQuery, PageQuery, PathId};
use super::views::{BlockView, Paged};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{BlockRequest, ListBlocksRequest, UnblockRequest};
use im_runtime::resilience::idempotent;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_blocks))
        .routes(routes!(block_user, unblock_user))
}

/// The users the caller blocked.
#[utoipa::path(get, path = "/api/v1/blocks", tag = "contacts",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of blocked users", body = Paged<BlockView>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
    ))]
async fn list_blocks(
    State(state): State<AppState>,
    me: Principal,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<BlockView>>, ApiError> {
    let request = ListBlocksRequest {
        user_id: me.user_id,
        page: Some(query.page()?),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_blocks(idempotent(r)).await
        })
        .await?;
    let items = response
        .blocked_users
        .into_iter()
        .map(BlockView::from)
        .collect();
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// Block a user (again is harmless); pending friend requests between the two end.
#[utoipa::path(put, path = "/api/v1/blocks/{user_id}", tag = "contacts",
    params(("user_id" = String, Path, description = "The user to block")),
    responses(
        (status = 204, description = "Blocked"),
        (status = 400, description = "Invalid id, or the caller themself", body = ErrorBody),
        (status = 404, description = "No such user (`user_not_found`)", body = ErrorBody),
    ))]
async fn block_user(
    State(state): State<AppState>,
    me: Principal,
    PathId(blocked_user_id): PathId,
) -> Result<StatusCode, ApiError> {
    require_user(&state, &blocked_user_id).await?;
    let request = BlockRequest {
        user_id: me.user_id,
        blocked_user_id,
    };
    state
        .conversation
        .call(request, |mut c, r| async move { c.block(r).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a block.
#[utoipa::path(delete, path = "/api/v1/blocks/{user_id}", tag = "contacts",
    params(("user_id" = String, Path, description = "The blocked user")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 404, description = "The caller does not block that user (`block_not_found`)", body = ErrorBody),
    ))]
async fn unblock_user(
    State(state): State<AppState>,
    me: Principal,
    PathId(blocked_user_id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = UnblockRequest {
        user_id: me.user_id,
        blocked_user_id,
    };
    state
        .conversation
        .call(request, |mut c, r| async move { c.unblock(r).await })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
