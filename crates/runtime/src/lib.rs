//! The shared runtime of every IM service, written once: configuration, telemetry, the
//! ports (database, kv, bus, registry, object store) with their adapters chosen by URL
//! scheme, the transactional outbox, keyset paging, gRPC plumbing with its resilience
//! (deadlines, retries, circuit breakers, load shedding), health and graceful shutdown.
//!
//! Dependency rule: this crate never depends on a service crate; services depend on it.

pub mod bus;
pub mod config;
pub mod db;
pub mod errors;
pub mod grpc;
pub mod health;
pub mod http;
pub mod in_process;
pub mod kv;
pub mod limits;
pub mod metrics;
pub mod nodelay;
pub mod objects;
pub mod outbox;
pub mod paging;
pub mod registry;
pub mod resilience;
pub mod secret;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use service::{Infra, Service, ServiceContext, ServiceName};
pub use shutdown::Shutdown;
