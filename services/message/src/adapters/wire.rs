//! Domain values as protobuf messages (`im.v1`) and back.

use crate::domain::{
    ConversationKind, EventEnvelope, Message, MessageEvent, MessageType, Role, SendCheck,
    ValidationError,
};
use crate::ports::Direction;
use im_contracts::v1 as pb;
use im_contracts::v1::message_event::Kind;

pub fn message_type(kind: MessageType) -> pb::MessageType {
    match kind {
        MessageType::Text => pb::MessageType::Text,
        MessageType::Image => pb::MessageType::Image,
        MessageType::File => pb::MessageType::File,
        MessageType::Video => pb::MessageType::Video,
        MessageType::Voice => pb::MessageType::Voice,
        MessageType::Custom => pb::MessageType::Custom,
        MessageType::System => pb::MessageType::System,
        MessageType::Call => pb::MessageType::Call,
    }
}

/// `None` for an unspecified or unknown type.
pub fn message_type_in(value: i32) -> Option<MessageType> {
    match pb::MessageType::try_from(value).ok()? {
        pb::MessageType::Unspecified => None,
        pb::MessageType::Text => Some(MessageType::Text),
        pb::MessageType::Image => Some(MessageType::Image),
        pb::MessageType::File => Some(MessageType::File),
        pb::MessageType::Video => Some(MessageType::Video),
        pb::MessageType::Voice => Some(MessageType::Voice),
        pb::MessageType::Custom => Some(MessageType::Custom),
        pb::MessageType::System => Some(MessageType::System),
        pb::MessageType::Call => Some(MessageType::Call),
    }
}

pub fn direction_in(value: i32) -> Result<Option<Direction>, ValidationError> {
    match pb::HistoryDirection::try_from(value) {
        Ok(pb::HistoryDirection::Unspecified) => Ok(None),
        Ok(pb::HistoryDirection::Forward) => Ok(Some(Direction::Forward)),
        Ok(pb::HistoryDirection::Backward) => Ok(Some(Direction::Backward)),
        Err(_) => Err(ValidationError::Direction),
    }
}

pub fn message(message: &Message) -> pb::Message {
    pb::Message {
        id: message.id.as_str().to_owned(),
        conversation_id: message.conversation_id.as_str().to_owned(),
        seq: message.seq,
        sender_id: message.sender_id.as_str().to_owned(),
        client_msg_id: message.client_msg_id.as_str().to_owned(),
        r#type: message_type(message.kind).into(),
        body_json: message.body.as_str().to_owned(),
        reply_to: message
            .reply_to
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default(),
        mentions: message
            .mentions
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect(),
        mention_all: message.mention_all,
        created_at_ms: message.created_at_ms,
        edited_at_ms: message.edited_at_ms,
        recalled: message.recalled,
    }
}

pub fn event(envelope: &EventEnvelope) -> pb::MessageEvent {
    let kind = match &envelope.event {
        MessageEvent::Stored(m) => Kind::Stored(message(m)),
        MessageEvent::Recalled(m) => Kind::Recalled(message(m)),
        MessageEvent::Edited(m) => Kind::Edited(message(m)),
        MessageEvent::Read {
            conversation_id,
            user_id,
            seq,
        } => Kind::Read(pb::ReadCursorMoved {
            conversation_id: conversation_id.as_str().to_owned(),
            user_id: user_id.as_str().to_owned(),
            seq: *seq,
        }),
    };
    pb::MessageEvent {
        id: uuid::Uuid::now_v7().to_string(),
        occurred_at_ms: envelope.occurred_at_ms,
        kind: Some(kind),
    }
}

/// The conversation service's answer to `CheckSend`.
pub fn send_check(reply: &pb::CheckSendResponse) -> SendCheck {
    SendCheck {
        is_member: reply.is_member,
        role: match reply.role() {
            pb::MemberRole::Owner => Role::Owner,
            pb::MemberRole::Admin => Role::Admin,
            pb::MemberRole::Member | pb::MemberRole::Unspecified => Role::Member,
        },
        muted: reply.muted,
        blocked: reply.blocked,
        kind: match reply.kind() {
            pb::ConversationKind::Direct => Some(ConversationKind::Direct),
            pb::ConversationKind::Group => Some(ConversationKind::Group),
            pb::ConversationKind::Unspecified => None,
        },
        mute_all: reply.mute_all,
    }
}
