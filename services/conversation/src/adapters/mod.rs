//! Adapters: the gRPC server and the message-event consumer (inbound); SQL storage, the
//! outbox records of conversation events and the system clock (outbound).

pub mod clock;
pub mod events;
pub mod grpc;
pub mod message_events;
pub mod sql;
pub(crate) mod wire;
