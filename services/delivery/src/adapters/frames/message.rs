//! Message events (`im.v1.MessageEvent`) as frames to the conversation's members.

use super::views::MessageView;
use super::{Malformed, Translated, conversation_id, frame, user_id};
use crate::domain::{Audience, Fanout};
use im_contracts::v1 as pb;
use im_contracts::v1::message_event::Kind;
use serde_json::json;

pub const MESSAGE: &str = "message";
pub const MESSAGE_RECALLED: &str = "message.recalled";
pub const MESSAGE_EDITED: &str = "message.edited";
pub const READ: &str = "read";

pub fn from_message_event(event: pb::MessageEvent) -> Result<Translated, Malformed> {
    let kind = event
        .kind
        .ok_or_else(|| Malformed(format!("message event {} has no kind", event.id)))?;
    let fanout = match kind {
        Kind::Stored(message) => message_frame(MESSAGE, message)?,
        Kind::Recalled(message) => message_frame(MESSAGE_RECALLED, message)?,
        Kind::Edited(message) => message_frame(MESSAGE_EDITED, message)?,
        Kind::Read(read) => {
            let conversation = conversation_id(&read.conversation_id)?;
            let reader = user_id(&read.user_id)?;
            let data = json!({
                "conversation_id": read.conversation_id,
                "user_id": read.user_id,
                "seq": read.seq,
            });
            Fanout {
                frame: frame(READ, &data)?,
                // The other members, and the reader's other devices.
                audience: Audience::members(conversation).and([reader]),
            }
        }
    };
    Ok(Translated {
        forget: None,
        fanouts: vec![fanout],
    })
}

fn message_frame(frame_type: &str, message: pb::Message) -> Result<Fanout, Malformed> {
    let conversation = conversation_id(&message.conversation_id)?;
    let view = MessageView::try_from(message)?;
    Ok(Fanout {
        frame: frame(frame_type, &json!({ "message": view }))?,
        audience: Audience::members(conversation),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn stored() -> pb::Message {
        pb::Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 7,
            sender_id: "ann".into(),
            client_msg_id: "k1".into(),
            r#type: pb::MessageType::Text.into(),
            body_json: r#"{"text":"hi"}"#.into(),
            reply_to: String::new(),
            mentions: vec!["bob".into()],
            mention_all: false,
            created_at_ms: 1_700_000_000_123,
            edited_at_ms: 0,
            recalled: false,
        }
    }

    fn translate(kind: Kind) -> Fanout {
        let event = pb::MessageEvent {
            id: "e1".into(),
            occurred_at_ms: 1,
            kind: Some(kind),
        };
        let mut translated = from_message_event(event).unwrap();
        assert!(translated.forget.is_none());
        translated.fanouts.remove(0)
    }

    fn data(fanout: &Fanout) -> Value {
        serde_json::from_str(fanout.frame.data_json()).unwrap()
    }

    #[test]
    fn a_stored_message_is_a_message_frame_to_the_members() {
        let fanout = translate(Kind::Stored(stored()));
        assert_eq!(fanout.frame.frame_type(), "message");
        assert_eq!(
            fanout.audience,
            Audience::members(conversation_id("c1").unwrap())
        );
        assert_eq!(
            data(&fanout),
            json!({"message": {
                "id": "m1", "conversation_id": "c1", "seq": 7, "sender_id": "ann",
                "client_msg_id": "k1", "type": "text", "body": {"text": "hi"},
                "reply_to": null, "mentions": ["bob"], "mention_all": false,
                "created_at": "2023-11-14T22:13:20.123Z", "edited_at": null,
                "recalled": false,
            }})
        );
    }

    #[test]
    fn recalls_edits_and_receipts() {
        let recalled = pb::Message {
            body_json: String::new(),
            recalled: true,
            ..stored()
        };
        let fanout = translate(Kind::Recalled(recalled));
        assert_eq!(fanout.frame.frame_type(), "message.recalled");
        assert_eq!(data(&fanout)["message"]["body"], Value::Null);
        assert_eq!(data(&fanout)["message"]["recalled"], true);

        let edited = pb::Message {
            edited_at_ms: 1_700_000_060_000,
            ..stored()
        };
        let fanout = translate(Kind::Edited(edited));
        assert_eq!(fanout.frame.frame_type(), "message.edited");
        assert_eq!(
            data(&fanout)["message"]["edited_at"],
            "2023-11-14T22:14:20Z"
        );

        let fanout = translate(Kind::Read(pb::ReadCursorMoved {
            conversation_id: "c1".into(),
            user_id: "bob".into(),
            seq: 7,
        }));
        assert_eq!(fanout.frame.frame_type(), "read");
        assert_eq!(
            data(&fanout),
            json!({"conversation_id": "c1", "user_id": "bob", "seq": 7})
        );
        assert_eq!(fanout.audience.users[0].as_str(), "bob");
    }

    #[test]
    fn broken_events_are_refused() {
        let no_kind = pb::MessageEvent::default();
        assert!(from_message_event(no_kind).is_err());
        let untyped = pb::Message {
            r#type: pb::MessageType::Unspecified.into(),
            ..stored()
        };
        let event = pb::MessageEvent {
            kind: Some(Kind::Stored(untyped)),
            ..Default::default()
        };
        assert!(from_message_event(event).is_err());
    }
}
