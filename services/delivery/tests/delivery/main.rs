//! Delivery through its real build: consumers on the in-memory bus, the real gRPC
//! adapters, and stand-ins for the conversation service, presence and gateway nodes
//! (real tonic servers on loopback ports, found through the registry).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod fakes;
mod harness;

mod conversations;
mod ephemeral;
mod fallback;
mod messages;
mod retries;
