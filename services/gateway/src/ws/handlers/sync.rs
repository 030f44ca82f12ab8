//! `sync`: what a reconnecting client missed. It sends its last seq per conversation;
//! the message service answers page after page, each written as `sync` frames (one per
//! conversation and page, messages in seq order), and `sync.done` closes the exchange
//! with the cursors to keep. Writing waits for the client to read (replies are paced,
//! never dropped), so a long sync cannot overflow the connection.

use super::{Answer, Connection, Handled, refusal};
use crate::messaging;
use crate::ws::frames::{self, ClientFrame};
use im_contracts::v1::SyncCursor;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Pages read for one `sync` frame; a client still behind after that many is told
/// `done: false` and syncs again from the returned cursors.
const MAX_PAGES: usize = 100;
/// Cursors one `sync` frame may carry (the message service's own bound).
const MAX_CURSORS: usize = 10_000;

#[derive(Debug, Deserialize, Serialize)]
struct Cursor {
    conversation_id: String,
    seq: u64,
}

#[derive(Debug, Deserialize)]
struct SyncData {
    #[serde(default)]
    cursors: Vec<Cursor>,
    /// Also the user's conversations missing from `cursors`, from their start.
    #[serde(default)]
    include_unlisted: bool,
}

pub async fn sync(connection: &Connection, frame: &ClientFrame) -> Handled {
    let data: SyncData = frame.data()?;
    if data.cursors.len() > MAX_CURSORS {
        return Err(refusal(
            "too_many_conversations",
            format!("at most {MAX_CURSORS} cursors per sync"),
        ));
    }
    let mut cursors: Vec<SyncCursor> = data
        .cursors
        .into_iter()
        .map(|cursor| SyncCursor {
            conversation_id: cursor.conversation_id,
            seq: cursor.seq,
        })
        .collect();
    let mut done = false;
    for _ in 0..MAX_PAGES {
        let page = messaging::sync_page(
            &connection.live.message,
            connection.principal.user_id.clone(),
            cursors.clone(),
            0,
            data.include_unlisted,
        )
        .await?;
        for batch in page.batches {
            if !connection
                .outbound
                .reply(frames::encode("sync", None, batch))
                .await
            {
                // The connection is closing: nobody is left to answer.
                return Err(refusal("closing", "the connection is closing"));
            }
        }
        let stalled = page.next_cursors == cursors;
        cursors = page.next_cursors;
        if page.done {
            done = true;
            break;
        }
        if stalled {
            tracing::warn!("sync made no progress; stopping");
            break;
        }
    }
    let cursors: Vec<Cursor> = cursors
        .into_iter()
        .map(|cursor| Cursor {
            conversation_id: cursor.conversation_id,
            seq: cursor.seq,
        })
        .collect();
    Ok(Answer::Reply(
        "sync.done",
        json!({"cursors": cursors, "done": done}),
    ))
}
