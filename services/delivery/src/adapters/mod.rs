//! Adapters: inbound, the `im.v1.Delivery` gRPC service and the bus consumers (with the
//! [`frames`] that turn events into WebSocket frames); outbound, the conversation and
//! presence clients and the gateway nodes' Push endpoints found through the registry.

pub mod consumer;
pub mod conversation;
pub mod frames;
pub mod gateways;
pub mod grpc;
pub mod presence;
