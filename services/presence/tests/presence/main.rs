//! Presence through its real gRPC server, on the in-memory kv and on Redis: every
//! scenario is written once and run against both.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod harness;

mod connections;
mod events;
mod expiry;
mod inputs;
