//! The conversation service through its real gRPC server, on SQLite and on MariaDB:
//! every scenario is written once and run against both backends.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod harness;

mod activity;
mod contacts;
mod direct;
mod events;
mod groups;
mod inputs;
mod joins;
mod members;
mod races;
mod watch;
