//! Messages of a conversation as its members use them: sending (idempotent on
//! `client_msg_id`), history pages, the read cursor, and recalling, editing or deleting
//! (for oneself) one message. Sending and reading share their code with the WebSocket
//! `send` and `read` frames ([`crate::messaging`]).

use super::json::ApiJson;
use super::params::{ApiQuery, PathId};
use super::views::{MessageView, message_view, required};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use crate::messaging::{self, NewMessage, from_message};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use im_contracts::v1::{DeleteForMeRequest, EditRequest, HistoryRequest, RecallRequest};
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest history page (the message service's own bound).
pub const MAX_HISTORY_LIMIT: u32 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message, history))
        .routes(routes!(mark_read))
        .routes(routes!(recall_message))
        .routes(routes!(edit_message, delete_message))
}

/// `?after_seq=&before_seq=&limit=` of a history page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages with a greater seq; the page then starts from the oldest of them
    /// (read forward). Absent or 0: no lower bound.
    pub after_seq: Option<u64>,
    /// Only messages with a smaller seq; without `after_seq` the page holds the newest
    /// of them (read backward). Absent or 0: no upper bound.
    pub before_seq: Option<u64>,
    /// Messages per page, 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    /// Seq ascending, whichever way the page was read. Recalled messages read
    /// `recalled: true` with a `null` body; those deleted for oneself are left out.
    pub items: Vec<MessageView>,
    /// More messages lie beyond this page in the direction it was read: ask again with
    /// `before_seq` = the first seq (backward) or `after_seq` = the last seq (forward).
    pub has_more: bool,
    /// Always `null`: history pages by seq, not by cursor.
    #[schema(value_type = Option<String>)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadBody {
    /// Everything up to and including this seq is read; at most the newest seq.
    pub seq: u64,
}

/// A read cursor after `POST …/read`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadCursorView {
    pub conversation_id: String,
    /// The cursor now (unchanged when `seq` was not ahead of it).
    pub read_seq: u64,
    /// Whether the cursor moved.
    pub advanced: bool,
}

/// A new text body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditBody {
    /// A text body, `{"text": "..."}`.
    #[schema(value_type = Object)]
    pub body: Value,
}

/// Send a message. Idempotent: a retry with the same `client_msg_id` stores nothing
/// and answers the original message, with 200 instead of 201.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Stored now", body = MessageView),
        (status = 200, description = "A retry: the message stored by the first attempt, unchanged", body = MessageView),
        (status = 400, description = "Invalid type (`invalid_type`, `type_not_allowed`), body, client_msg_id, mentions …", body = ErrorBody),
        (status = 403, description = "`muted` or `blocked`", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller, or `reply_not_found`", body = ErrorBody),
        (status = 503, description = "`message_unavailable`, `contention` (Retry-After)", body = ErrorBody),
    ))]
async fn send_message(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let sent = messaging::send(&state.live.message, me.user_id, id, body).await?;
    let status = if sent.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(sent.message)))
}

/// A page of a conversation's history: the newest messages (before `before_seq`), or
/// the oldest after `after_seq`.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Conversation id"), HistoryQuery),
    responses(
        (status = 200, description = "One page, seq ascending", body = HistoryPage),
        (status = 400, description = "A seq or limit that is not a number in range (`invalid_request`, `invalid_seq_range`)", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn history(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let limit = match query.limit {
        None => 0,
        Some(limit @ 1..=MAX_HISTORY_LIMIT) => limit,
        Some(_) => return Err(ApiError::invalid_request("limit must be between 1 and 200")),
    };
    let request = HistoryRequest {
        conversation_id: id,
        viewer_id: me.user_id,
        after_seq: query.after_seq.unwrap_or_default(),
        before_seq: query.before_seq.unwrap_or_default(),
        limit,
        // Forward when after_seq is set, else backward: the service's default.
        direction: 0,
    };
    let page = state
        .live
        .message
        .call(
            request,
            |mut c, r| async move { c.history(idempotent(r)).await },
        )
        .await
        .map_err(|status| from_message(&status))?;
    let items = page
        .messages
        .into_iter()
        .map(message_view)
        .collect::<Result<_, _>>()?;
    Ok(Json(HistoryPage {
        items,
        has_more: page.has_more,
        next_cursor: None,
    }))
}

/// Move the caller's read cursor forward (never backward), as the `read` frame does.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/read", tag = "messages",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = ReadBody,
    responses(
        (status = 200, description = "The cursor after the call", body = ReadCursorView),
        (status = 400, description = "`seq` beyond the newest message (`seq_out_of_range`) or not a number", body = ErrorBody),
        (status = 404, description = "No such conversation of the caller", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn mark_read(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ReadBody>,
) -> Result<Json<ReadCursorView>, ApiError> {
    let cursor =
        messaging::mark_read(&state.live.message, me.user_id, id.clone(), body.seq).await?;
    Ok(Json(ReadCursorView {
        conversation_id: id,
        read_seq: cursor.read_seq,
        advanced: cursor.advanced,
    }))
}

/// Recall a message: its sender within the recall window, group admins anytime. It
/// keeps its seq, reads `recalled: true` and loses its body; recalling again answers
/// it unchanged.
#[utoipa::path(post, path = "/api/v1/messages/{id}/recall", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The recalled message", body = MessageView),
        (status = 403, description = "`not_allowed`", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 422, description = "`window_passed`", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn recall_message(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
) -> Result<Json<MessageView>, ApiError> {
    let request = RecallRequest {
        message_id: id,
        actor_id: me.user_id,
    };
    let recalled = state
        .live
        .message
        .call(request, |mut c, r| async move { c.recall(r).await })
        .await
        .map_err(|status| from_message(&status))?;
    Ok(Json(message_view(required(recalled.message, "message")?)?))
}

/// Replace the body of a text message the caller sent; it keeps its seq and gets
/// `edited_at`.
#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    request_body = EditBody,
    responses(
        (status = 200, description = "The edited message", body = MessageView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`not_allowed` (not the sender)", body = ErrorBody),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 422, description = "`not_editable` (not text), `message_recalled`, `window_passed`", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn edit_message(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<MessageView>, ApiError> {
    let request = EditRequest {
        message_id: id,
        editor_id: me.user_id,
        body_json: body.body.to_string(),
    };
    let edited = state
        .live
        .message
        .call(request, |mut c, r| async move { c.edit(r).await })
        .await
        .map_err(|status| from_message(&status))?;
    Ok(Json(message_view(required(edited.message, "message")?)?))
}

/// Delete a message for the caller only: it leaves their history and sync; the other
/// members still see it.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 204, description = "Hidden from the caller"),
        (status = 404, description = "`message_not_found`", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn delete_message(
    State(state): State<AppState>,
    me: Principal,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let request = DeleteForMeRequest {
        message_id: id,
        user_id: me.user_id,
    };
    state
        .live
        .message
        .call(request, |mut c, r| async move { c.delete_for_me(r).await })
        .await
        .map_err(|status| from_message(&status))?;
    Ok(StatusCode::NO_CONTENT)
}
