//! Stored messages as clients see them, in REST replies and WebSocket frames alike: ids
//! as strings, the type in snake_case, times RFC 3339 UTC, unset values `null`, and the
//! body as parsed JSON. One shape, made here, for the gateway and delivery both.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::v1 as pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageTypeView {
    Text,
    Image,
    File,
    Video,
    Voice,
    Custom,
    System,
    Call,
}

/// A stored message.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// Its gapless position inside the conversation.
    pub seq: u64,
    pub sender_id: String,
    pub client_msg_id: String,
    #[serde(rename = "type")]
    pub message_type: MessageTypeView,
    /// The JSON body, e.g. `{"text": "hi"}`; `null` when there is none (recalled).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub body: Value,
    /// The message this one replies to; `null` when none.
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    pub mention_all: bool,
    pub created_at: DateTime<Utc>,
    /// `null` when never edited.
    pub edited_at: Option<DateTime<Utc>>,
    pub recalled: bool,
}

/// A message without a type: the message service broke its contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message {0} has no type")]
pub struct UntypedMessage(pub String);

impl TryFrom<pb::Message> for MessageView {
    type Error = UntypedMessage;

    fn try_from(message: pb::Message) -> Result<Self, UntypedMessage> {
        let message_type = match message.r#type() {
            pb::MessageType::Text => MessageTypeView::Text,
            pb::MessageType::Image => MessageTypeView::Image,
            pb::MessageType::File => MessageTypeView::File,
            pb::MessageType::Video => MessageTypeView::Video,
            pb::MessageType::Voice => MessageTypeView::Voice,
            pb::MessageType::Custom => MessageTypeView::Custom,
            pb::MessageType::System => MessageTypeView::System,
            pb::MessageType::Call => MessageTypeView::Call,
            pb::MessageType::Unspecified => return Err(UntypedMessage(message.id)),
        };
        Ok(Self {
            body: body(&message.id, &message.body_json),
            id: message.id,
            conversation_id: message.conversation_id,
            seq: message.seq,
            sender_id: message.sender_id,
            client_msg_id: message.client_msg_id,
            message_type,
            reply_to: (!message.reply_to.is_empty()).then_some(message.reply_to),
            mentions: message.mentions,
            mention_all: message.mention_all,
            created_at: time(message.created_at_ms),
            edited_at: (message.edited_at_ms != 0).then(|| time(message.edited_at_ms)),
            recalled: message.recalled,
        })
    }
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The parsed body; `null` when empty, or unreadable (logged: the message service only
/// stores JSON).
fn body(id: &str, json: &str) -> Value {
    if json.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(json).unwrap_or_else(|error| {
        tracing::warn!(message_id = id, %error, "a message body is not JSON");
        Value::Null
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn message_bodies_are_json_and_unreadable_ones_null() {
        let message = |body: &str| pb::Message {
            id: "m1".into(),
            r#type: pb::MessageType::Text.into(),
            body_json: body.into(),
            ..pb::Message::default()
        };
        let view = MessageView::try_from(message(r#"{"text":"hi"}"#)).unwrap();
        let json = serde_json::to_value(view).unwrap();
        assert_eq!(json["body"], serde_json::json!({"text": "hi"}));
        assert_eq!(json["type"], "text");
        assert!(json["edited_at"].is_null());
        for unreadable in ["", "{not json"] {
            let view = MessageView::try_from(message(unreadable)).unwrap();
            assert!(view.body.is_null());
        }
        let untyped = pb::Message {
            id: "m2".into(),
            ..pb::Message::default()
        };
        assert_eq!(
            MessageView::try_from(untyped).unwrap_err(),
            UntypedMessage("m2".into())
        );
    }
}
