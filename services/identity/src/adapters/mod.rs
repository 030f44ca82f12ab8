//! Adapters: the gRPC services (inbound) and, outbound, SQL storage, argon2 hashing, kv
//! failure counters, bus events and the system clock.

pub mod clock;
pub mod counter;
pub mod events;
pub mod grpc;
pub mod grpc_access;
pub mod password;
pub mod sql;
mod wire;
