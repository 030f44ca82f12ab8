//! Outbound adapters of the service.

pub mod sql;
