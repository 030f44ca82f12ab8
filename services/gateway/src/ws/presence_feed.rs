//! Live `presence` frames: presence's `PresenceChanged` events, consumed by this node
//! (its own consumer group, so every node sees every change) and handed to the local
//! connections that subscribed to the user.

use super::handlers::presence::presence_frame;
use super::hub::Hub;
use im_contracts::topics::PRESENCE_EVENTS;
use im_contracts::v1::PresenceChanged;
use im_runtime::bus::{Bus, Subscription};
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// The consumer group of node `node_id`.
pub fn group(node_id: &str) -> String {
    format!("gateway-presence-{node_id}")
}

pub fn spawn(bus: Arc<dyn Bus>, hub: Arc<Hub>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let group = group(hub.node_id());
        let mut backoff = RETRY_MIN;
        loop {
            match bus.subscribe(PRESENCE_EVENTS, &group).await {
                Ok(subscription) => {
                    backoff = RETRY_MIN;
                    consume(subscription, &hub).await;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "cannot subscribe to presence events");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    })
}

/// Returns when the subscription fails.
async fn consume(mut subscription: Box<dyn Subscription>, hub: &Hub) {
    loop {
        let delivery = match subscription.next().await {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(%error, "presence events interrupted");
                return;
            }
        };
        match PresenceChanged::decode(&delivery.record.payload[..]) {
            Ok(change) => {
                let frame = presence_frame(&change.user_id, change.online, change.last_seen_ms);
                hub.presence_changed(&change.user_id, &frame);
            }
            // A record nobody can read would block the stream forever: skip it.
            Err(error) => {
                tracing::error!(%error, offset = delivery.offset, "unreadable presence event")
            }
        }
        if let Err(error) = subscription.commit(&delivery).await {
            tracing::warn!(%error, "cannot commit a presence event");
            return;
        }
    }
}
