//! `send` (store a message, as `POST /api/v1/conversations/{id}/messages`), `ack`
//! (the delivered cursor of this connection) and `read` (the read cursor).
//!
//! `send.ack` is written only once the message service answered, that is once the
//! message is committed (DESIGN.md section 4): an acked message is never lost. A retry
//! with the same `client_msg_id` is answered with the original message. Each `send`
//! spends its sender's message quota, as the REST route does.

use super::{Answer, Connection, Handled, refusal};
use crate::messaging::{self, NewMessage};
use crate::ws::frames::ClientFrame;
use serde::Deserialize;
use serde_json::json;

/// Conversations one connection may keep a delivered cursor for.
const MAX_DELIVERED_CURSORS: usize = 10_000;
/// The longest conversation id kept as a delivered cursor.
const MAX_CONVERSATION_ID_BYTES: usize = 128;

#[derive(Debug, Deserialize)]
struct SendData {
    conversation_id: String,
    #[serde(flatten)]
    message: NewMessage,
}

pub async fn send(connection: &Connection, frame: &ClientFrame) -> Handled {
    let data: SendData = frame.data()?;
    connection
        .live
        .limits
        .admit_send(&connection.principal.user_id)
        .await?;
    let sent = messaging::send(
        &connection.live.message,
        connection.principal.user_id.clone(),
        data.conversation_id,
        data.message,
    )
    .await?;
    Ok(Answer::Ack(
        json!({"message": sent.message, "duplicate": sent.duplicate}),
    ))
}

#[derive(Debug, Deserialize)]
struct CursorData {
    conversation_id: String,
    seq: u64,
}

/// Records the delivered cursor of this connection: it only moves forward.
pub fn ack(connection: &mut Connection, frame: &ClientFrame) -> Handled {
    let data: CursorData = frame.data()?;
    let conversation = data.conversation_id;
    if conversation.is_empty() || conversation.len() > MAX_CONVERSATION_ID_BYTES {
        return Err(refusal(
            "invalid_conversation_id",
            "conversation_id must be 1 to 128 bytes",
        ));
    }
    let known = connection.delivered.len();
    let seq = match connection.delivered.get_mut(&conversation) {
        Some(cursor) => {
            *cursor = (*cursor).max(data.seq);
            *cursor
        }
        None if known >= MAX_DELIVERED_CURSORS => {
            return Err(refusal(
                "too_many_conversations",
                "too many conversations acknowledged on this connection",
            ));
        }
        None => {
            connection.delivered.insert(conversation.clone(), data.seq);
            data.seq
        }
    };
    Ok(Answer::Ack(
        json!({"conversation_id": conversation, "seq": seq}),
    ))
}

/// Moves the read cursor, as `POST /api/v1/conversations/{id}/read`.
pub async fn read(connection: &Connection, frame: &ClientFrame) -> Handled {
    let data: CursorData = frame.data()?;
    let cursor = messaging::mark_read(
        &connection.live.message,
        connection.principal.user_id.clone(),
        data.conversation_id.clone(),
        data.seq,
    )
    .await?;
    Ok(Answer::Ack(json!({
        "conversation_id": data.conversation_id,
        "read_seq": cursor.read_seq,
        "advanced": cursor.advanced,
    })))
}
