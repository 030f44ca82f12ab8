//! The bus consumers (consumer group `delivery`): message events and conversation
//! events become frames (see [`super::frames`]) and are pushed in batches of what is
//! already waiting. A batch is committed once its pushes were attempted as
//! [`Guarantee::AtLeastOnce`] asks; when its recipients or the gateway nodes cannot be
//! listed it is retried with backoff, uncommitted. An undecodable or malformed event is
//! logged, counted and skipped. Metric: `im_delivery_events_total{topic, outcome}`.

use super::frames::{self, Malformed, Translated};
use crate::app::{App, Guarantee};
use crate::ports::Ports;
use bytes::Bytes;
use futures::FutureExt as _;
use im_contracts::topics::{CONVERSATION_EVENTS, MESSAGE_EVENTS};
use im_contracts::v1 as pb;
use im_runtime::bus::{Bus, Delivery, StartAt};
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The consumer group of this service on every topic it reads.
pub const GROUP: &str = "delivery";

/// A topic and how its records become frames.
#[derive(Clone, Copy)]
pub struct Topic {
    pub name: &'static str,
    /// For logs and metrics.
    pub label: &'static str,
    pub translate: fn(Bytes) -> Result<Translated, Malformed>,
}

pub const MESSAGES: Topic = Topic {
    name: MESSAGE_EVENTS,
    label: "message",
    translate: |payload| {
        let event = pb::MessageEvent::decode(payload).map_err(|e| Malformed(e.to_string()))?;
        frames::from_message_event(event)
    },
};

pub const CONVERSATIONS: Topic = Topic {
    name: CONVERSATION_EVENTS,
    label: "conversation",
    translate: |payload| {
        let event = pb::ConversationEvent::decode(payload).map_err(|e| Malformed(e.to_string()))?;
        frames::from_conversation_event(event)
    },
};

/// Runs until `stop` is cancelled, resubscribing whenever the subscription fails.
pub async fn consume<P: Ports>(
    bus: Arc<dyn Bus>,
    app: Arc<App<P>>,
    topic: Topic,
    stop: CancellationToken,
) {
    let first_backoff = app.settings().retry_backoff;
    let mut backoff = first_backoff;
    while !stop.is_cancelled() {
        match bus.subscribe(topic.name, GROUP).await {
            Ok(mut subscription) => loop {
                let next = tokio::select! {
                    // Stopping first: a stopped consumer must not take a record it
                    // will not handle.
                    biased;
                    () = stop.cancelled() => return,
                    next = subscription.next() => next,
                };
                let first = match next {
                    Ok(delivery) => delivery,
                    Err(error) => {
                        tracing::warn!(topic = topic.name, %error, "subscription failed; resubscribing");
                        break;
                    }
                };
                // Whatever else is already waiting joins the batch.
                let mut batch = vec![first];
                let mut failed = false;
                while batch.len() < app.settings().batch_size {
                    match subscription.next().now_or_never() {
                        Some(Ok(delivery)) => batch.push(delivery),
                        Some(Err(error)) => {
                            tracing::warn!(topic = topic.name, %error, "subscription failed; resubscribing");
                            failed = true;
                            break;
                        }
                        None => break,
                    }
                }
                if !handle(&app, topic, &batch, &stop).await {
                    return;
                }
                let mut committed = true;
                for last in last_per_partition(&batch) {
                    if let Err(error) = subscription.commit(last).await {
                        tracing::warn!(topic = topic.name, %error, "cannot commit; resubscribing");
                        committed = false;
                        break;
                    }
                }
                if !committed {
                    break;
                }
                backoff = first_backoff;
                if failed {
                    break;
                }
            },
            Err(error) => {
                tracing::warn!(topic = topic.name, %error, "cannot subscribe");
            }
        }
        if !pause(&mut backoff, app.settings().max_retry_backoff, &stop).await {
            return;
        }
    }
}

/// The last record of each partition in `batch`: committing it commits the records
/// before it in that partition (offsets of different partitions do not compare).
fn last_per_partition(batch: &[Delivery]) -> Vec<&Delivery> {
    let mut last: Vec<&Delivery> = Vec::new();
    for delivery in batch {
        match last.iter_mut().find(|d| d.partition == delivery.partition) {
            Some(known) if known.offset < delivery.offset => *known = delivery,
            Some(_) => {}
            None => last.push(delivery),
        }
    }
    last
}

/// Forgets cached members on every membership change, on this instance: the group
/// `delivery` hands each conversation event to one instance only, and the others must
/// not keep pushing to a member list older than the change. A per-node group that
/// starts at the latest record, since older changes predate this instance's cache.
pub async fn forget_on_membership_changes<P: Ports>(
    bus: Arc<dyn Bus>,
    app: Arc<App<P>>,
    node_id: String,
    stop: CancellationToken,
) {
    let group = format!("{GROUP}-members-{node_id}");
    im_runtime::bus::consume_from(
        bus,
        CONVERSATION_EVENTS,
        &group,
        StartAt::Latest,
        stop,
        |delivery| {
            if let Ok(translated) = (CONVERSATIONS.translate)(delivery.record.payload)
                && let Some(conversation) = &translated.forget
            {
                app.forget_members(conversation);
            }
            std::future::ready(true)
        },
    )
    .await;
}

/// Delivers one batch, retrying while its recipients or the gateway nodes cannot be
/// listed; false when stopped first (the batch stays uncommitted).
async fn handle<P: Ports>(
    app: &App<P>,
    topic: Topic,
    batch: &[Delivery],
    stop: &CancellationToken,
) -> bool {
    let mut fanouts = Vec::with_capacity(batch.len());
    for delivery in batch {
        match (topic.translate)(delivery.record.payload.clone()) {
            Ok(translated) => {
                // Before any lookup of this batch, so its frames see the new members.
                if let Some(conversation) = &translated.forget {
                    app.forget_members(conversation);
                }
                fanouts.extend(translated.fanouts);
                count(topic, "delivered");
            }
            Err(error) => {
                tracing::warn!(topic = topic.name, offset = delivery.offset, %error, "skipping an event");
                count(topic, "malformed");
            }
        }
    }
    if fanouts.is_empty() {
        return true;
    }
    let mut backoff = app.settings().retry_backoff;
    loop {
        let delivered = tokio::select! {
            biased;
            () = stop.cancelled() => return false,
            delivered = app.deliver(fanouts.clone(), Guarantee::AtLeastOnce) => delivered,
        };
        match delivered {
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(
                    topic = topic.name,
                    error = format!("{:#}", anyhow::Error::from(error)),
                    "cannot deliver events now; retrying"
                );
            }
        }
        if !pause(&mut backoff, app.settings().max_retry_backoff, stop).await {
            return false;
        }
    }
}

fn count(topic: Topic, outcome: &'static str) {
    metrics::counter!("im_delivery_events_total", "topic" => topic.label, "outcome" => outcome)
        .increment(1);
}

/// Sleeps `backoff` (then doubles it up to `max`); false when stopped meanwhile.
async fn pause(backoff: &mut Duration, max: Duration, stop: &CancellationToken) -> bool {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(max);
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = stop.cancelled() => false,
    }
}
