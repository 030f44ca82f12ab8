//! Identity through its real gRPC server, on SQLite and on MariaDB: every scenario is
//! written once and run against both backends.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod harness;

mod access;
mod accounts;
mod inputs;
mod moderation;
mod search;
mod sessions;
mod tokens;
