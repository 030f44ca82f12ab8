//! Friend requests: send one (to an existing user), list the pending ones either way,
//! and decide them: accept or reject (the recipient), cancel (the sender).

use super::json::ApiJson;
use super::known_users::require_user;
use super::params::{ApiQuery, PageQuery, PathId, check_id, check_text};
use super::views::{FriendRequestView, Paged, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{
    AcceptFriendRequestRequest, CancelFriendRequestRequest, FriendRequestDirection,
    ListFriendRequestsRequest, RejectFriendRequestRequest, SendFriendRequestRequest,
};
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Far beyond the service's bound (200): refused here without asking it.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_friend_request, list_friend_requests))
        .routes(routes!(accept_friend_request))
        .routes(routes!(reject_friend_request))
        .routes(routes!(cancel_friend_request))
}

#[derive(Deserialize, ToSchema)]
pub struct FriendRequestBody {
    pub to_user_id: String,
    /// A note for the recipient, at most 200 characters.
    #[serde(default)]
    pub message: Option<String>,
}

/// Which side of the caller's pending requests to list.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Requests the caller received.
    #[default]
    Incoming,
    /// Requests the caller sent.
    Outgoing,
}

/// `?direction=&limit=&cursor=`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FriendRequestsQuery {
    /// `incoming` (the default) or `outgoing`.
    pub direction: Option<Direction>,
    /// Items per page, 1 to 100; the server's default when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
}

/// Ask another user to become a contact. Repeating a pending request refreshes it.
#[utoipa::path(post, path = "/api/v1/friend-requests", tag = "contacts",
    request_body = FriendRequestBody,
    responses(
        (status = 201, description = "The pending request", body = FriendRequestView),
        (status = 400, description = "Invalid id or message, or the caller themself", body = ErrorBody),
        (status = 403, description = "One of the two blocked the other", body = ErrorBody),
        (status = 404, description = "No such user (`user_not_found`)", body = ErrorBody),
        (status = 409, description = "Already contacts", body = ErrorBody),
        (status = 503, description = "A dependency is down; retry after `Retry-After`", body = ErrorBody),
    ))]
async fn send_friend_request(
    State(state): State<AppState>,
    me: Principal,
    ApiJson(body): ApiJson<FriendRequestBody>,
) -> Result<(StatusCode, Json<FriendRequestView>), ApiError> {
    check_id(&body.to_user_id)?;
    let message = body.message.unwrap_or_default();
    check_text(&message, MAX_MESSAGE_CHARS, "invalid_message")?;
    require_user(&state, &body.to_user_id).await?;
    let request = SendFriendRequestRequest {
        from_user_id: me.user_id,
        to_user_id: body.to_user_id,
        message,
    };
    let response = state
        .conversation
        .call(
            request,
            |mut c, r| async move { c.send_friend_request(r).await },
        )
        .await?;
    let sent = required(response.friend_request, "friend_request")?;
    Ok((StatusCode::CREATED, Json(sent.into())))
}

/// The caller's pending friend requests, received or sent.
#[utoipa::path(get, path = "/api/v1/friend-requests", tag = "contacts",
    params(FriendRequestsQuery),
    responses(
        (status = 200, description = "One page of pending requests", body = Paged<FriendRequestView>),
        (status = 400, description = "Invalid direction, limit or cursor", body = ErrorBody),
    ))]
async fn list_friend_requests(
    State(state): State<AppState>,
    me: Principal,
    ApiQuery(query): ApiQuery<FriendRequestsQuery>,
) -> Result<Json<Paged<FriendRequestView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let direction = match query.direction.unwrap_or_default() {
        Direction::Incoming => FriendRequestDirection::Incoming,
        Direction::Outgoing => FriendRequestDirection::Outgoing,
    };
    let request = ListFriendRequestsRequest {
        user_id: me.user_id,
        direction: direction.into(),
        page: Some(page),
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.list_friend_requests(idempotent(r)).await
        })
        .await?;
    let items = response
        .friend_requests
        .into_iter()
        .map(FriendRequestView::from)
        .collect();
    Ok(Json(Paged::new(
        items,
        response.page_info.map(|info| info.next_cursor),
    )))
}

/// Accept a pending request addressed to the caller: the two become contacts.
#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/accept", tag = "contacts",
    params(("id" = String, Path, description = "Friend request id")),
    responses(
        (status = 200, description = "The request, now `accepted`", body = FriendRequestView),
        (status = 404, description = "No such request addressed to the caller", body = ErrorBody),
        (status = 422, description = "The request is no longer pending", body = ErrorBody),
    ))]
async fn accept_friend_request(
    State(state): State<AppState>,
    me: Principal,
    PathId(request_id): PathId,
) -> Result<Json<FriendRequestView>, ApiError> {
    let request = AcceptFriendRequestRequest {
        request_id,
        user_id: me.user_id,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.accept_friend_request(r).await
        })
        .await?;
    let accepted = required(response.friend_request, "friend_request")?;
    Ok(Json(accepted.into()))
}

/// Reject a pending request addressed to the caller.
#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/reject", tag = "contacts",
    params(("id" = String, Path, description = "Friend request id")),
    responses(
        (status = 200, description = "The request, now `rejected`", body = FriendRequestView),
        (status = 404, description = "No such request addressed to the caller", body = ErrorBody),
        (status = 422, description = "The request is no longer pending", body = ErrorBody),
    ))]
async fn reject_friend_request(
    State(state): State<AppState>,
    me: Principal,
    PathId(request_id): PathId,
) -> Result<Json<FriendRequestView>, ApiError> {
    let request = RejectFriendRequestRequest {
        request_id,
        user_id: me.user_id,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.reject_friend_request(r).await
        })
        .await?;
    let rejected = required(response.friend_request, "friend_request")?;
    Ok(Json(rejected.into()))
}

/// Withdraw a pending request the caller sent.
#[utoipa::path(post, path = "/api/v1/friend-requests/{id}/cancel", tag = "contacts",
    params(("id" = String, Path, description = "Friend request id")),
    responses(
        (status = 200, description = "The request, now `cancelled`", body = FriendRequestView),
        (status = 404, description = "No such request sent by the caller", body = ErrorBody),
        (status = 422, description = "The request is no longer pending", body = ErrorBody),
    ))]
async fn cancel_friend_request(
    State(state): State<AppState>,
    me: Principal,
    PathId(request_id): PathId,
) -> Result<Json<FriendRequestView>, ApiError> {
    let request = CancelFriendRequestRequest {
        request_id,
        user_id: me.user_id,
    };
    let response = state
        .conversation
        .call(request, |mut c, r| async move {
            c.cancel_friend_request(r).await
        })
        .await?;
    let cancelled = required(response.friend_request, "friend_request")?;
    Ok(Json(cancelled.into()))
}
