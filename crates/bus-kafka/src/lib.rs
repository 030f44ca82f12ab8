//! The Kafka adapter of IM's bus port (rdkafka): [`connect`] turns a `kafka://` URL
//! into an [`im_runtime::bus::Bus`] backed by any Kafka-protocol broker.
//!
//! # URL
//!
//! `kafka://host:port[/namespace][?brokers=h2:p2,h3:p3&partitions=8&replication=1]`
//!
//! - `host:port` (port 9092 by default) and the optional `brokers` list are the
//!   bootstrap servers;
//! - `namespace` prefixes every topic and group name (`<namespace>.<name>`), so
//!   several IM clusters (or test runs) can share one broker; it may hold letters,
//!   digits, `.`, `_` and `-`;
//! - `partitions` (default 8) and `replication` (default 1) shape the topics the
//!   adapter creates when they are missing; existing topics are left as they are.
//!
//! Credentials are not accepted in the URL.
//!
//! # Mapping to Kafka
//!
//! A record's key is the Kafka message key, so records of one conversation share a
//! partition and keep their order; its headers travel as Kafka headers. Publishing
//! uses an idempotent producer with `acks=all` and returns when the broker
//! acknowledged the record, or fails with [`BusError::Unavailable`] after
//! [`DELIVERY_TIMEOUT`]. A subscription is a member of a Kafka consumer group that
//! commits only what the service commits, so a partition that moves to another
//! instance (one stopped, or silent for the session timeout) is read again from the
//! group's last commit.

mod address;
mod bus;
mod context;
mod subscription;
mod topics;

pub use bus::{DELIVERY_TIMEOUT, REQUEST_TIMEOUT, SESSION_TIMEOUT};

use im_runtime::bus::{Bus, BusError};
use im_runtime::secret::SecretUrl;
use std::sync::Arc;

/// A bus on the brokers `url` names. Nothing is contacted yet: an unreachable broker
/// shows in [`Bus::ping`] and in publish/subscribe errors, not here.
pub async fn connect(url: &SecretUrl) -> Result<Arc<dyn Bus>, BusError> {
    let address = address::Address::parse(url.expose())?;
    Ok(Arc::new(bus::KafkaBus::new(address)?))
}

/// Maps a client error to [`BusError::Unavailable`], saying what was being done.
pub(crate) fn unavailable<E: std::fmt::Display>(
    doing: impl Into<String>,
) -> impl FnOnce(E) -> BusError {
    let doing = doing.into();
    move |error| BusError::Unavailable(format!("{doing}: {error}"))
}
