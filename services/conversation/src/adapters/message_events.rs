//! Consumes the message service's events (`im.v1.MessageEvent` on
//! [`im_contracts::topics::MESSAGE_EVENTS`], consumer group `conversation`) into the
//! message activity projection. A delivery is committed only after the database took
//! it (at-least-once; the projection is idempotent); a failing database is retried
//! with backoff, an undecodable record is logged and skipped.

use super::wire;
use crate::app::{App, MessageActivity};
use crate::ports::Ports;
use im_contracts::topics::MESSAGE_EVENTS;
use im_contracts::v1 as pb;
use im_contracts::v1::message_event::Kind;
use im_runtime::bus::{self, Backoff, Bus, Delivery};
use prost::Message as _;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The consumer group of this service on the message topic.
pub const GROUP: &str = "conversation";

/// Runs until `stop` is cancelled (see [`im_runtime::bus::consume`]).
pub async fn consume<P: Ports>(bus: Arc<dyn Bus>, app: Arc<App<P>>, stop: CancellationToken) {
    let handler_stop = stop.clone();
    bus::consume(bus, MESSAGE_EVENTS, GROUP, stop, |delivery| {
        let (app, stop) = (app.clone(), handler_stop.clone());
        async move { apply(&app, &delivery, &stop).await }
    })
    .await;
}

/// Applies one delivery, retrying until the database takes it; false when stopped.
async fn apply<P: Ports>(app: &App<P>, delivery: &Delivery, stop: &CancellationToken) -> bool {
    let Some(activity) = decode(delivery) else {
        return true;
    };
    let mut backoff = Backoff::default();
    loop {
        match app.apply_message_activity(activity.clone()).await {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    offset = delivery.offset,
                    "cannot apply a message event; retrying"
                );
            }
        }
        if !backoff.pause(stop).await {
            return false;
        }
    }
}

fn decode(delivery: &Delivery) -> Option<MessageActivity> {
    let event = match pb::MessageEvent::decode(delivery.record.payload.clone()) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, offset = delivery.offset, "skipping an undecodable message event");
            return None;
        }
    };
    match event.kind? {
        Kind::Stored(message) | Kind::Edited(message) | Kind::Recalled(message) => {
            Some(MessageActivity::Message {
                conversation_id: message.conversation_id.clone(),
                message: wire::snapshot(message),
            })
        }
        Kind::Read(read) => Some(MessageActivity::Read {
            conversation_id: read.conversation_id,
            user_id: read.user_id,
            seq: read.seq,
        }),
    }
}
