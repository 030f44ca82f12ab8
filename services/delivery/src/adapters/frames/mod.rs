//! The one place where bus events become WebSocket frames (API.md, docs/PROTOCOL.md):
//! each frame's type, its `data` JSON and who it is for.
//!
//! Message events, to every member's devices (the sender's too; clients dedupe by
//! `(conversation_id, seq)`):
//! - `message`, `message.recalled`, `message.edited`: `{"message": <message>}`;
//! - `read`: `{"conversation_id", "user_id", "seq"}`.
//!
//! Conversation events, to the conversation's members (plus the users a change is
//! about, such as the removed one); contact-level events to the pair; every `data`
//! carries `actor_id` (`null` when none):
//! - `conversation.created` `{"conversation", "members"}`, `conversation.updated`
//!   `{"conversation"}`, `conversation.dissolved` `{"conversation_id"}`;
//! - `conversation.member_joined` `{"conversation_id", "members", "method"}`,
//!   `conversation.member_removed` `{"conversation_id", "user_id", "reason"}`,
//!   `conversation.member_updated` `{"conversation_id", "member"}`,
//!   `conversation.ownership_transferred` `{"conversation_id", "previous_owner_id",
//!   "new_owner_id"}`;
//! - `conversation.join_request` `{"join_request"}` to the requester and the group's
//!   owner and admins;
//! - `friend_request.<status>` (`pending`, `accepted`, `rejected`, `cancelled`)
//!   `{"friend_request"}`; `contact.added`, `contact.removed` `{"user_id", "contact_id"}`;
//! - `block.changed` `{"user_id", "blocked_user_id", "blocked"}`, to the blocking user
//!   only (the blocked one is never told).
//!
//! Objects (`message`, `conversation`, `member`, `friend_request`, `join_request`) have
//! the shapes of the REST API's; times are RFC 3339 UTC, unset ones `null`.

mod conversation;
mod message;
mod views;

pub use conversation::from_conversation_event;
pub use message::from_message_event;

use crate::domain::{ConversationId, Fanout, Frame, UserId, ValidationError};
use serde::Serialize;

/// What one event asks for: frames to deliver, and a conversation whose members changed.
#[derive(Debug, Default)]
pub struct Translated {
    pub forget: Option<ConversationId>,
    pub fanouts: Vec<Fanout>,
}

/// An event that breaks its contract; it is logged and skipped.
#[derive(Debug, thiserror::Error)]
#[error("malformed event: {0}")]
pub struct Malformed(pub String);

impl From<ValidationError> for Malformed {
    fn from(error: ValidationError) -> Self {
        Self(error.to_string())
    }
}

fn frame(frame_type: impl Into<String>, data: &impl Serialize) -> Result<Frame, Malformed> {
    let json = serde_json::to_string(data).map_err(|error| Malformed(error.to_string()))?;
    Ok(Frame::new(frame_type, json))
}

fn conversation_id(text: &str) -> Result<ConversationId, Malformed> {
    Ok(ConversationId::parse(text)?)
}

fn user_id(text: &str) -> Result<UserId, Malformed> {
    Ok(UserId::parse(text)?)
}

fn user_ids<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Vec<UserId>, Malformed> {
    texts.into_iter().map(user_id).collect()
}
