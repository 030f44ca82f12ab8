//! The cluster suite: IM in its distributed mode, every service a separate process, on
//! MariaDB, Redis, a Kafka-protocol broker and etcd, with instances killed mid-traffic.
//! Run by the project's test command; needs `etcd` on 127.0.0.1:2379 (IM_TEST_ETCD_URL),
//! the `tansu` broker program (IM_TEST_TANSU) and `redis-server`, all of which
//! `scripts/test.sh` provides. Outside CI a missing piece skips the suite with a note.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

// The system suite's clients, shared as they are.
#[allow(dead_code)]
#[path = "../system/api.rs"]
mod api;
#[allow(dead_code)]
#[path = "../system/people.rs"]
mod people;
#[allow(dead_code)]
#[path = "../system/process.rs"]
mod process;
#[allow(dead_code)]
#[path = "../system/ws.rs"]
mod ws;

mod chat;
mod cluster;
mod limits;
mod scenarios;
