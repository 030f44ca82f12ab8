//! The message use cases both edges serve, REST (`http/messages.rs`, `http/sync.rs`)
//! and WebSocket (`ws/handlers/{messages,sync}.rs`): sending, moving the read cursor and
//! reading one page of sync. Each builds the message service's request, makes the call
//! and maps its refusal once, so a frame and the route doing the same answer alike.

use crate::http::ApiError;
use crate::http::views::{MessageView, message_view, required};
use crate::message::Message;
use im_contracts::v1::{MarkReadRequest, MessageType, SendRequest, SyncCursor, SyncRequest};
use im_runtime::ServiceName;
use im_runtime::resilience::idempotent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A refusal of the message service, as the client sees it.
pub fn from_message(status: &tonic::Status) -> ApiError {
    ApiError::from_status(ServiceName::Message, status)
}

/// A message to store, as a client writes it (the conversation comes from elsewhere:
/// the path of the route, the `conversation_id` of the frame).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessage {
    /// The sending device's id for this message, 1 to 64 printable ASCII characters:
    /// a retry with the same id returns the original message.
    pub client_msg_id: String,
    /// `text`, `image`, `file`, `video`, `voice` or `custom`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// As the type wants it, e.g. `{"text": "hi"}` or `{"file_id": "f1", …}`.
    #[schema(value_type = Object)]
    pub body: Value,
    /// A message of the same conversation this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// At most 50 user ids.
    #[serde(default)]
    pub mentions: Vec<String>,
    #[serde(default)]
    pub mention_all: bool,
}

/// The message type a client names; `system` and `call` are passed on for the message
/// service to refuse (`type_not_allowed`).
pub fn message_type(name: &str) -> Result<MessageType, ApiError> {
    Ok(match name {
        "text" => MessageType::Text,
        "image" => MessageType::Image,
        "file" => MessageType::File,
        "video" => MessageType::Video,
        "voice" => MessageType::Voice,
        "custom" => MessageType::Custom,
        "system" => MessageType::System,
        "call" => MessageType::Call,
        _ => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_type",
                "`type` must be one of text, image, file, video, voice, custom",
            ));
        }
    })
}

/// A stored message, and whether this send was a retry answered with the original.
pub struct Sent {
    pub message: MessageView,
    pub duplicate: bool,
}

/// Stores `new` in `conversation_id` as `sender_id`'s. Answers once the message service
/// committed it: an acknowledged message is never lost.
pub async fn send(
    service: &Message,
    sender_id: String,
    conversation_id: String,
    new: NewMessage,
) -> Result<Sent, ApiError> {
    let request = SendRequest {
        conversation_id,
        sender_id,
        client_msg_id: new.client_msg_id,
        r#type: message_type(&new.message_type)?.into(),
        body_json: new.body.to_string(),
        reply_to: new.reply_to.unwrap_or_default(),
        mentions: new.mentions,
        mention_all: new.mention_all,
    };
    let sent = service
        .call(request, |mut client, request| async move {
            client.send(request).await
        })
        .await
        .map_err(|status| from_message(&status))?;
    Ok(Sent {
        message: message_view(required(sent.message, "message")?)?,
        duplicate: sent.duplicate,
    })
}

/// A read cursor after a move.
pub struct ReadCursor {
    pub read_seq: u64,
    /// Whether the cursor moved (it never goes backward).
    pub advanced: bool,
}

/// Moves `user_id`'s read cursor of `conversation_id` forward to `seq`.
pub async fn mark_read(
    service: &Message,
    user_id: String,
    conversation_id: String,
    seq: u64,
) -> Result<ReadCursor, ApiError> {
    let request = MarkReadRequest {
        conversation_id,
        user_id,
        seq,
    };
    let marked = service
        .call(request, |mut client, request| async move {
            client.mark_read(request).await
        })
        .await
        .map_err(|status| from_message(&status))?;
    Ok(ReadCursor {
        read_seq: marked.read_seq,
        advanced: marked.advanced,
    })
}

/// What one conversation missed, in one page of a sync.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncBatchView {
    pub conversation_id: String,
    /// After the cursor, seq ascending (without those deleted for oneself).
    pub messages: Vec<MessageView>,
    /// More of this conversation follows in a later page.
    pub has_more: bool,
    pub max_seq: u64,
    pub read_seq: u64,
}

/// One page of a sync.
pub struct SyncPage {
    pub batches: Vec<SyncBatchView>,
    /// The cursors to sync from next: one per conversation the sync covered.
    pub next_cursors: Vec<SyncCursor>,
    /// Nothing more is missed.
    pub done: bool,
}

/// One page of what `user_id` missed after `cursors`; `limit` 0 is the service's
/// default.
pub async fn sync_page(
    service: &Message,
    user_id: String,
    cursors: Vec<SyncCursor>,
    limit: u32,
    include_unlisted: bool,
) -> Result<SyncPage, ApiError> {
    let request = SyncRequest {
        user_id,
        cursors,
        limit,
        include_unlisted,
    };
    let page = service
        .call(request, |mut client, request| async move {
            client.sync(idempotent(request)).await
        })
        .await
        .map_err(|status| from_message(&status))?;
    let batches = page
        .batches
        .into_iter()
        .map(|batch| {
            Ok(SyncBatchView {
                conversation_id: batch.conversation_id,
                messages: batch
                    .messages
                    .into_iter()
                    .map(message_view)
                    .collect::<Result<_, ApiError>>()?,
                has_more: batch.has_more,
                max_seq: batch.max_seq,
                read_seq: batch.read_seq,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(SyncPage {
        batches,
        next_cursors: page.next_cursors,
        done: page.done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_types_map_to_the_contract_and_others_are_refused() {
        assert_eq!(message_type("text").unwrap(), MessageType::Text);
        assert_eq!(message_type("custom").unwrap(), MessageType::Custom);
        assert_eq!(message_type("call").unwrap(), MessageType::Call);
        assert_eq!(message_type("TEXT").unwrap_err().code, "invalid_type");
    }
}
