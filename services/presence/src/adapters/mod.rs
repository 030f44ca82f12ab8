//! Adapters: the gRPC service (inbound) and, outbound, the kv store of connections and
//! nodes, presence events on the bus, and the system clock.

pub mod clock;
pub mod events;
pub mod grpc;
pub mod kv_store;
mod wire;
