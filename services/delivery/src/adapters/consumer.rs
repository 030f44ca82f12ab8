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
use im_contracts::topics::{CONVERSATION_EVENTS, MESSAGE_EVENTS};
use im_contracts::v1 as pb;
use im_runtime::bus::{Backoff, Bus, Consumer, Delivery, StartAt};
use prost::Message as _;
use std::sync::Arc;
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
    let consumer = Consumer {
        topic: topic.name,
        group: GROUP,
        start: StartAt::Earliest,
        max_batch: app.settings().batch_size,
        backoff: backoff(&app),
    };
    let handler_stop = stop.clone();
    im_runtime::bus::consume_batches(bus, consumer, stop, |batch| {
        let (app, stop) = (app.clone(), handler_stop.clone());
        async move { handle(&app, topic, &batch, &stop).await }
    })
    .await;
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
    let mut backoff = backoff(app);
    loop {
        let delivered = tokio::select! {
            // A delivery that finished as the stop came is kept (and committed).
            biased;
            delivered = app.deliver(fanouts.clone(), Guarantee::AtLeastOnce) => delivered,
            () = stop.cancelled() => return false,
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
        if !backoff.pause(stop).await {
            return false;
        }
    }
}

/// The waits between attempts, from the settings.
fn backoff<P: Ports>(app: &App<P>) -> Backoff {
    let settings = app.settings();
    Backoff::new(settings.retry_backoff, settings.max_retry_backoff)
}

fn count(topic: Topic, outcome: &'static str) {
    metrics::counter!("im_delivery_events_total", "topic" => topic.label, "outcome" => outcome)
        .increment(1);
}
