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
use im_runtime::bus::{Bus, Delivery};
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The consumer group of this service on the message topic.
pub const GROUP: &str = "conversation";

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until `stop` is cancelled, resubscribing whenever the subscription fails.
pub async fn consume<P: Ports>(bus: Arc<dyn Bus>, app: Arc<App<P>>, stop: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    while !stop.is_cancelled() {
        match bus.subscribe(MESSAGE_EVENTS, GROUP).await {
            Ok(mut subscription) => loop {
                let delivery = tokio::select! {
                    delivery = subscription.next() => delivery,
                    () = stop.cancelled() => return,
                };
                let delivery = match delivery {
                    Ok(delivery) => delivery,
                    Err(error) => {
                        tracing::warn!(%error, "message event subscription failed; resubscribing");
                        break;
                    }
                };
                if !apply(&app, &delivery, &stop).await {
                    return;
                }
                if let Err(error) = subscription.commit(&delivery).await {
                    tracing::warn!(%error, "cannot commit a message event; resubscribing");
                    break;
                }
                backoff = FIRST_BACKOFF;
            },
            Err(error) => {
                tracing::warn!(%error, "cannot subscribe to message events");
            }
        }
        if !pause(&mut backoff, &stop).await {
            return;
        }
    }
}

/// Applies one delivery, retrying until the database takes it; false when stopped.
async fn apply<P: Ports>(app: &App<P>, delivery: &Delivery, stop: &CancellationToken) -> bool {
    let Some(activity) = decode(delivery) else {
        return true;
    };
    let mut backoff = FIRST_BACKOFF;
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
        if !pause(&mut backoff, stop).await {
            return false;
        }
    }
}

/// Sleeps `backoff` (then doubles it); false when stopped meanwhile.
async fn pause(backoff: &mut Duration, stop: &CancellationToken) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = stop.cancelled() => false,
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
