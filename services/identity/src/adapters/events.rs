//! Identity events on the bus: `im.v1.IdentityEvent`, protobuf-encoded, on
//! [`im_contracts::topics::IDENTITY_EVENTS`], keyed by user id (`ip-blocks` for IP
//! entries, `access` for rule and role changes) so each user's events stay in order.

use super::wire;
use crate::domain::IdentityEvent;
use crate::ports::{Clock, EventPublisher};
use async_trait::async_trait;
use im_contracts::topics::IDENTITY_EVENTS;
use im_contracts::v1 as pb;
use im_runtime::bus::{Bus, Record};
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;

/// Attempts per event. Gateways also reload the whole denylist every 30 s, so an event
/// that cannot be delivered now is late, not lost for good.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

pub struct BusEvents<C> {
    bus: Arc<dyn Bus>,
    clock: C,
}

impl<C: Clock> BusEvents<C> {
    pub fn new(bus: Arc<dyn Bus>, clock: C) -> Self {
        Self { bus, clock }
    }
}

#[async_trait]
impl<C: Clock> EventPublisher for BusEvents<C> {
    async fn publish(&self, event: IdentityEvent) {
        let key = event.key().to_owned();
        let message = pb::IdentityEvent {
            id: uuid::Uuid::now_v7().to_string(),
            occurred_at_ms: self.clock.now_ms(),
            kind: Some(wire::event_kind(event)),
        };
        let payload = message.encode_to_vec();
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match self
                .bus
                .publish(IDENTITY_EVENTS, Record::new(key.clone(), payload.clone()))
                .await
            {
                Ok(()) => return,
                Err(error) if attempt < ATTEMPTS => {
                    tracing::warn!(%error, attempt, event_id = %message.id, "publishing an identity event failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 4;
                }
                Err(error) => {
                    tracing::error!(%error, event_id = %message.id, key, "identity event dropped; gateways catch up at their next denylist reload");
                }
            }
        }
    }
}
