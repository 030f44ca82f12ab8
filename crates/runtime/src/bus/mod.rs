//! The bus port: durable, ordered-per-key event streams with consumer groups.
//! `memory://` inside one process; `kafka://` (crate `im-bus-kafka`) in the
//! distributed mode.
//!
//! Semantics every adapter keeps (checked by `im_testkit::contract::bus`):
//! - records with the same key are delivered to a group in publish order, from one
//!   partition (offsets only compare within a partition: Kafka numbers each one apart);
//! - each group sees every record; a group that subscribes for the first time starts
//!   at the earliest retained record ([`StartAt::Earliest`], so nothing published
//!   before it is lost) or after everything already published ([`StartAt::Latest`]);
//!   a group that has committed resumes after its commits either way;
//! - delivery is at-least-once: a record is redelivered to the group unless it was
//!   committed before the subscription went away;
//! - `publish` returns once the bus durably accepted the record.

mod consume;
mod memory;

pub use consume::{Backoff, Consumer, consume, consume_batches, consume_from};
pub use memory::MemoryBus;

use crate::secret::SecretUrl;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("subscription closed")]
    Closed,
    #[error("unsupported bus url scheme {0:?}")]
    UnsupportedScheme(String),
    #[error("invalid bus url: {0}")]
    InvalidUrl(String),
}

/// A record as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Ordering key: records with equal keys stay in order (IM uses the conversation id).
    pub key: String,
    pub payload: Bytes,
    /// Metadata such as W3C `traceparent`.
    pub headers: Vec<(String, String)>,
}

impl Record {
    pub fn new(key: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            payload: payload.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A record as delivered to a consumer, with its position for committing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: String,
    /// The partition of `topic` holding the record (always 0 on the memory bus).
    pub partition: u32,
    /// Position within `partition`; increases with each record of that partition.
    pub offset: u64,
    pub record: Record,
}

/// Where a group that has never committed starts reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartAt {
    /// At the oldest retained record: nothing published before the group existed is
    /// missed (work queues, projections).
    #[default]
    Earliest,
    /// After everything published before the subscription: only what comes next
    /// (per-node broadcast consumers, such as each gateway's own group).
    Latest,
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Returns once the bus has durably accepted the record.
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError>;

    /// Joins consumer `group` on `topic`; a group without commits starts at `start`.
    /// Records published after this returns reach the group.
    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        start: StartAt,
    ) -> Result<Box<dyn Subscription>, BusError>;

    /// Joins consumer `group` on `topic`, a new group starting at the earliest record.
    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError> {
        self.subscribe_from(topic, group, StartAt::Earliest).await
    }

    async fn ping(&self) -> Result<(), BusError>;
}

#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next record of this group.
    async fn next(&mut self) -> Result<Delivery, BusError>;

    /// Marks `delivery` and everything before it in its partition as processed by the
    /// group.
    async fn commit(&mut self, delivery: &Delivery) -> Result<(), BusError>;
}

pub async fn connect(url: &SecretUrl) -> Result<Arc<dyn Bus>, BusError> {
    match url.scheme() {
        "memory" => Ok(Arc::new(MemoryBus::default())),
        other => Err(BusError::UnsupportedScheme(other.to_owned())),
    }
}
