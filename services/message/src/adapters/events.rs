//! Message events on the bus: `im.v1.MessageEvent`, protobuf-encoded, on
//! [`im_contracts::topics::MESSAGE_EVENTS`], keyed by conversation id. They leave through
//! the runtime's outbox.

use super::wire;
use crate::domain::EventEnvelope;
use im_contracts::topics::MESSAGE_EVENTS;
use im_runtime::outbox::OutboxRecord;
use prost::Message as _;

/// The outbox record announcing `envelope`.
pub fn outbox_record(envelope: &EventEnvelope) -> OutboxRecord {
    OutboxRecord {
        topic: MESSAGE_EVENTS.to_owned(),
        key: envelope.event.conversation_id().as_str().to_owned(),
        payload: wire::event(envelope).encode_to_vec(),
    }
}
