//! Resilience of the gRPC calls between services (DESIGN.md section 6), in one place.
//!
//! Outbound, every channel handed out by [`crate::grpc::Clients`] is a
//! [`ResilientChannel`]: each call gets a deadline (`resilience.deadline_ms` unless the
//! caller set a shorter one; none for calls marked [`streaming`]), goes through the
//! circuit breaker of its downstream, and is retried with jittered backoff only when
//! its caller marked it [`idempotent`]:
//!
//! ```ignore
//! let request = idempotent(tonic::Request::new(LocateDevicesRequest { .. }));
//! PresenceClient::new(clients.channel(ServiceName::Presence).await?)
//!     .locate_devices(request)
//!     .await?;
//! ```
//!
//! Inbound, [`LoadShedLayer`] refuses calls beyond a server's concurrency limit.

mod breaker;
mod call;
mod channel;
mod config;
mod deadline;
mod outcome;
mod retry;
mod shedding;

pub use breaker::{BreakerState, CircuitBreaker, Permit, REFUSED_METRIC, STATE_METRIC, Target};
pub use call::{idempotent, streaming};
pub use channel::{DEADLINE_METRIC, RETRIES_METRIC, ResilientChannel};
pub use config::{BreakerConfig, ResilienceConfig, RetryConfig, ServerLimits};
pub use outcome::CIRCUIT_OPEN;
pub use shedding::{LoadShed, LoadShedLayer, OVERLOADED, SHED_METRIC};
