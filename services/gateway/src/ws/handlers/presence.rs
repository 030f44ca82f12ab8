//! `presence.subscribe`: which users' online status this connection follows. The
//! current status of each comes at once as `presence` frames (from presence), then every
//! change as it happens (see `presence_feed`), until the connection subscribes to
//! another list (which replaces this one; an empty list unsubscribes) or closes.
//!
//! With presence down the subscription still holds (changes arrive once it is back)
//! and the frame is answered `presence_unavailable`: status unknown, DESIGN.md section 6.

use super::{Answer, Connection, Handled, refusal};
use crate::http::ApiError;
use crate::http::views::PresenceView;
use crate::ws::frames::{self, ClientFrame};
use axum::extract::ws::Utf8Bytes;
use im_contracts::v1::GetPresenceRequest;
use im_runtime::ServiceName;
use im_runtime::resilience::idempotent;
use serde::Deserialize;
use serde_json::json;

/// Users one connection may follow (presence's own bound per query).
pub const MAX_SUBSCRIBED: usize = 200;
const MAX_USER_ID_BYTES: usize = 128;

#[derive(Debug, Deserialize)]
struct SubscribeData {
    user_ids: Vec<String>,
}

/// A `presence` frame.
pub fn presence_frame(user_id: &str, online: bool, last_seen_ms: i64) -> Utf8Bytes {
    frames::encode(
        "presence",
        None,
        PresenceView::new(user_id.to_owned(), online, last_seen_ms),
    )
}

pub async fn subscribe(connection: &Connection, frame: &ClientFrame) -> Handled {
    let data: SubscribeData = frame.data()?;
    let mut user_ids = data.user_ids;
    user_ids.sort_unstable();
    user_ids.dedup();
    if user_ids.len() > MAX_SUBSCRIBED {
        return Err(refusal(
            "too_many_users",
            format!("at most {MAX_SUBSCRIBED} users per subscription"),
        ));
    }
    if user_ids
        .iter()
        .any(|id| id.is_empty() || id.len() > MAX_USER_ID_BYTES)
    {
        return Err(refusal("invalid_user_id", "user ids are 1 to 128 bytes"));
    }
    let live = &connection.live;
    live.hub.watch(connection.id, user_ids.clone());
    if !user_ids.is_empty() {
        let request = GetPresenceRequest {
            user_ids: user_ids.clone(),
        };
        let current = live
            .presence
            .call(request, |mut client, request| async move {
                client.get_presence(idempotent(request)).await
            })
            .await
            .map_err(|status| ApiError::from_status(ServiceName::Presence, &status))?;
        for presence in current.presences {
            let frame = presence_frame(&presence.user_id, presence.online, presence.last_seen_ms);
            connection.outbound.reply(frame).await;
        }
    }
    Ok(Answer::Ack(json!({"user_ids": user_ids})))
}
