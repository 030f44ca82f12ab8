//! `GET /api/v1/sync?cursor=`: what the caller missed, one bounded page per request.
//! The cursor is opaque to clients: base64url (no padding) of the JSON list of
//! `[conversation_id, seq]` the client holds. No cursor means from the beginning; every
//! answer carries the cursor to send next, and conversations missing from a cursor
//! (joined since) are included from their first message. The page itself comes from the
//! code the WebSocket `sync` frame runs ([`crate::messaging::sync_page`]).

use super::params::{ApiQuery, check_id};
use super::{ApiError, AppState, ErrorBody};
use crate::auth::Principal;
use crate::messaging::{self, SyncBatchView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use im_contracts::v1::SyncCursor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Conversations one cursor may name (the message service's own bound).
const MAX_CONVERSATIONS: usize = 10_000;
/// The longest cursor accepted, in characters: 10 000 conversations with long ids.
const MAX_CURSOR_CHARS: usize = 2 * 1024 * 1024;
/// The most messages one page may hold (the message service's own bound).
pub const MAX_SYNC_LIMIT: u32 = 1_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sync))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// `next_cursor` of the previous answer; absent or empty to start from the
    /// beginning of every conversation.
    pub cursor: Option<String>,
    /// Messages in this page over all conversations, 1 to 1000; 200 when absent.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One page of a sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncView {
    /// The conversations with messages after the cursor, in id order, each with (part
    /// of) those messages in seq order, its newest seq and the caller's read cursor.
    pub conversations: Vec<SyncBatchView>,
    /// The cursor to send next, whether or not `done`: it covers what this page
    /// returned.
    pub next_cursor: String,
    /// Nothing more is missed; `false` means ask again at once with `next_cursor`.
    pub done: bool,
}

/// The seq a client holds per conversation, as carried by the opaque cursor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncPosition(pub Vec<SyncCursor>);

fn invalid_cursor() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "the cursor is not one this server made; sync without it to start over",
    )
}

impl SyncPosition {
    /// The position a cursor names; the empty cursor is the beginning.
    pub fn parse(cursor: &str) -> Result<Self, ApiError> {
        if cursor.is_empty() {
            return Ok(Self::default());
        }
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(invalid_cursor());
        }
        let json = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| invalid_cursor())?;
        let seqs: Vec<(String, u64)> =
            serde_json::from_slice(&json).map_err(|_| invalid_cursor())?;
        if seqs.len() > MAX_CONVERSATIONS {
            return Err(invalid_cursor());
        }
        seqs.into_iter()
            .map(|(conversation_id, seq)| {
                check_id(&conversation_id).map_err(|_| invalid_cursor())?;
                Ok(SyncCursor {
                    conversation_id,
                    seq,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The opaque cursor of this position.
    pub fn encode(&self) -> String {
        let seqs: Vec<(&str, u64)> = self
            .0
            .iter()
            .map(|cursor| (cursor.conversation_id.as_str(), cursor.seq))
            .collect();
        // A list of string-number pairs always serializes.
        let json = serde_json::to_vec(&seqs).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }
}

/// What changed since the cursor: new messages per conversation (with each
/// conversation's newest seq and the caller's read cursor), one bounded page at a time.
#[utoipa::path(get, path = "/api/v1/sync", tag = "messages",
    params(SyncQuery),
    responses(
        (status = 200, description = "One page; repeat with `next_cursor` while `done` is false", body = SyncView),
        (status = 400, description = "`invalid_cursor`, or a limit out of range (`invalid_request`)", body = ErrorBody),
        (status = 503, description = "`message_unavailable` (Retry-After)", body = ErrorBody),
    ))]
async fn sync(
    State(state): State<AppState>,
    me: Principal,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> Result<Json<SyncView>, ApiError> {
    let limit = match query.limit {
        None => 0,
        Some(limit @ 1..=MAX_SYNC_LIMIT) => limit,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "limit must be between 1 and 1000",
            ));
        }
    };
    let position = SyncPosition::parse(query.cursor.as_deref().unwrap_or_default())?;
    // Always with the conversations the cursor does not name: the client cannot know
    // which it joined since.
    let page =
        messaging::sync_page(&state.live.message, me.user_id, position.0, limit, true).await?;
    Ok(Json(SyncView {
        conversations: page.batches,
        next_cursor: SyncPosition(page.next_cursors).encode(),
        done: page.done,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(conversation_id: &str, seq: u64) -> SyncCursor {
        SyncCursor {
            conversation_id: conversation_id.into(),
            seq,
        }
    }

    #[test]
    fn positions_survive_the_round_trip() {
        let position = SyncPosition(vec![cursor("c1", 5), cursor("c-2", u64::MAX)]);
        let encoded = position.encode();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(SyncPosition::parse(&encoded).unwrap(), position);
        assert_eq!(SyncPosition::parse("").unwrap(), SyncPosition::default());
        let empty = SyncPosition::default().encode();
        assert_eq!(
            SyncPosition::parse(&empty).unwrap(),
            SyncPosition::default()
        );
    }

    #[test]
    fn cursors_not_made_here_are_refused() {
        let encode = |json: &str| URL_SAFE_NO_PAD.encode(json);
        for bad in [
            "not base64!".to_owned(),
            "eyJ".to_owned(),
            encode("{}"),
            encode(r#"[["c1",-1]]"#),
            encode(r#"[["c1"]]"#),
            encode(r#"[["",1]]"#),
            encode(r#"[["c1","5"]]"#),
        ] {
            let error = SyncPosition::parse(&bad).unwrap_err();
            assert_eq!(
                (error.status, error.code.as_ref()),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{bad}"
            );
        }
    }
}
