//! Adapter contract tests: one generic suite per port, run against every adapter.
//! MariaDB and Redis run for real; under `CI=true` they must be reachable.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod bus;
mod db;
mod kv;
mod objects;
mod outbox;
mod registry;
