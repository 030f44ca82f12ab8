//! What the service announces on the bus, committed with the change that caused it.

use super::{ConversationId, Message, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageEvent {
    Stored(Message),
    /// A member's read cursor moved forward.
    Read {
        conversation_id: ConversationId,
        user_id: UserId,
        seq: u64,
    },
    Recalled(Message),
    Edited(Message),
}

impl MessageEvent {
    /// The conversation the event belongs to: its ordering key on the bus.
    pub fn conversation_id(&self) -> &ConversationId {
        match self {
            Self::Stored(message) | Self::Recalled(message) | Self::Edited(message) => {
                &message.conversation_id
            }
            Self::Read {
                conversation_id, ..
            } => conversation_id,
        }
    }
}

/// An event with the time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    pub event: MessageEvent,
    pub occurred_at_ms: i64,
}
