//! Consumes the message service's events (`im.v1.MessageEvent` on
//! [`im_contracts::topics::MESSAGE_EVENTS`], consumer group `conversation`) into the
//! message activity projection, in batches of what is waiting (one transaction each).
//! A batch is committed only after the database took it (at-least-once; the projection
//! is idempotent); a failing database is retried with backoff, an undecodable record is
//! logged and skipped.

use super::wire;
use crate::app::{App, MessageActivity};
use crate::ports::Ports;
use im_contracts::topics::MESSAGE_EVENTS;
use im_contracts::v1 as pb;
use im_contracts::v1::message_event::Kind;
use im_runtime::bus::{self, Backoff, Bus, Consumer, Delivery, StartAt};
use prost::Message as _;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The consumer group of this service on the message topic.
pub const GROUP: &str = "conversation";

/// The most events folded into one transaction.
const MAX_BATCH: usize = 512;

/// Runs until `stop` is cancelled (see [`im_runtime::bus::consume_batches`]).
pub async fn consume<P: Ports>(bus: Arc<dyn Bus>, app: Arc<App<P>>, stop: CancellationToken) {
    let consumer = Consumer {
        topic: MESSAGE_EVENTS,
        group: GROUP,
        start: StartAt::Earliest,
        max_batch: MAX_BATCH,
        backoff: Backoff::default(),
    };
    let handler_stop = stop.clone();
    bus::consume_batches(bus, consumer, stop, |batch| {
        let (app, stop) = (app.clone(), handler_stop.clone());
        async move { apply(&app, &batch, &stop).await }
    })
    .await;
}

/// Applies one batch, retrying until the database takes it; false when stopped.
async fn apply<P: Ports>(app: &App<P>, batch: &[Delivery], stop: &CancellationToken) -> bool {
    let activity: Vec<MessageActivity> = batch.iter().filter_map(decode).collect();
    if activity.is_empty() {
        return true;
    }
    let mut backoff = Backoff::default();
    loop {
        match app.apply_message_activity(activity.clone()).await {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    first_offset = batch[0].offset,
                    events = batch.len(),
                    "cannot apply message events; retrying"
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
