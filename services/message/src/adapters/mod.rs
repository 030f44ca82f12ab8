//! Adapters: the gRPC server and the conversation-event consumer (inbound); SQL storage,
//! the outbox records of message events, the conversation service's membership answers
//! and the system clock (outbound).

pub mod clock;
pub mod conversation_events;
pub mod events;
pub mod grpc;
pub mod membership;
pub mod sql;
pub(crate) mod wire;
