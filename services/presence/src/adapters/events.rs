//! Presence changes on the bus: `im.v1.PresenceChanged`, protobuf-encoded, on
//! [`crate::PRESENCE_EVENTS`], keyed by user id so each user's changes stay in order.

use super::wire;
use crate::PRESENCE_EVENTS;
use crate::domain::PresenceChanged;
use crate::ports::PresenceEvents;
use async_trait::async_trait;
use im_runtime::bus::{Bus, Record};
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;

/// Attempts per change. Publishing holds the user's lock (to keep their changes in
/// order), so this stays short; a change that cannot be delivered is late only until
/// subscribers next ask `GetPresence`.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

pub struct BusEvents {
    bus: Arc<dyn Bus>,
}

impl BusEvents {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus }
    }
}

#[async_trait]
impl PresenceEvents for BusEvents {
    async fn publish(&self, change: &PresenceChanged) {
        let key = change.user_id.as_str();
        let payload = wire::presence_changed(change).encode_to_vec();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match self
                .bus
                .publish(PRESENCE_EVENTS, Record::new(key, payload.clone()))
                .await
            {
                Ok(()) => return,
                Err(error) if attempt < ATTEMPTS => {
                    tracing::warn!(%error, attempt, user_id = key, "publishing a presence change failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 4;
                }
                Err(error) => {
                    tracing::error!(%error, user_id = key, online = change.online, "presence change dropped");
                }
            }
        }
    }
}
