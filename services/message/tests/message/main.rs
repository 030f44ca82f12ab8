//! The message service through its real gRPC server, on SQLite and on MariaDB: every
//! scenario is written once and run against both backends, with a fake membership the
//! test controls or (in `with_conversation`) the real conversation service beside it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod harness;

mod bodies;
mod changes;
mod events;
mod history;
mod reads;
mod send;
mod sync;
mod system;
mod with_conversation;
