//! im-bench-store: M5 on the message service alone. The full M5 (`im-bench m5`) goes
//! through the gateway, identity's token checks and the conversation service's
//! membership answers; this one sends straight to the message service's gRPC `Send`,
//! so what it measures is the write path the group commit is for: seqs taken, message,
//! read cursor and outbox event written, one commit per batch, the answer after it.
//!
//! The binary runs the service in a child process (`im-bench-store serve`), so the
//! server's CPU and memory are its own, and drives it from the parent.

pub mod drive;
pub mod server;
pub mod summary;

pub use drive::{DriveOptions, Findings, drive};
pub use server::{ServeOptions, Served, serve};
