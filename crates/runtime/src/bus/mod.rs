//! The bus port: durable, ordered-per-key event streams with consumer groups.
//! `memory://` inside one process; Kafka arrives with the distributed mode.
//!
//! Semantics every adapter keeps (checked by the contract suite):
//! - records with the same key are delivered to a group in publish order;
//! - each group sees every record; a group that subscribes for the first time starts
//!   at the earliest retained record, so nothing published before it is lost;
//! - delivery is at-least-once: a record is redelivered to the group unless it was
//!   committed before the subscription went away.

mod consume;
mod memory;

pub use consume::{Backoff, consume};
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
    #[error("unsupported bus url scheme {0:?} (expected memory://)")]
    UnsupportedScheme(String),
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
    pub offset: u64,
    pub record: Record,
}

#[async_trait]
pub trait Bus: Send + Sync {
    /// Returns once the bus has durably accepted the record.
    async fn publish(&self, topic: &str, record: Record) -> Result<(), BusError>;

    /// Joins consumer `group` on `topic`.
    async fn subscribe(&self, topic: &str, group: &str) -> Result<Box<dyn Subscription>, BusError>;

    async fn ping(&self) -> Result<(), BusError>;
}

#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next record of this group.
    async fn next(&mut self) -> Result<Delivery, BusError>;

    /// Marks `delivery` and everything before it as processed by the group.
    async fn commit(&mut self, delivery: &Delivery) -> Result<(), BusError>;
}

pub async fn connect(url: &SecretUrl) -> Result<Arc<dyn Bus>, BusError> {
    match url.scheme() {
        "memory" => Ok(Arc::new(MemoryBus::default())),
        other => Err(BusError::UnsupportedScheme(other.to_owned())),
    }
}
