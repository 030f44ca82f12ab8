//! Conversation events on the bus: `im.v1.ConversationEvent`, protobuf-encoded, on
//! [`im_contracts::topics::CONVERSATION_EVENTS`], keyed by conversation id (the smaller
//! user id of the pair for contact-level events). They leave through the outbox.

use super::wire;
use crate::domain::EventEnvelope;
use im_contracts::topics::CONVERSATION_EVENTS;
use im_contracts::v1 as pb;
use im_runtime::outbox::OutboxRecord;
use prost::Message as _;

/// The outbox record announcing `envelope`.
pub fn outbox_record(envelope: &EventEnvelope) -> OutboxRecord {
    let message = pb::ConversationEvent {
        id: uuid::Uuid::now_v7().to_string(),
        occurred_at_ms: envelope.occurred_at_ms,
        actor_id: envelope.actor_id.as_str().to_owned(),
        membership_version: envelope.membership_version,
        kind: Some(wire::event_kind(&envelope.event)),
    };
    OutboxRecord {
        topic: CONVERSATION_EVENTS.to_owned(),
        key: envelope.event.key().to_owned(),
        payload: message.encode_to_vec(),
    }
}
