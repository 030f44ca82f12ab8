//! Resilience of gRPC between services, over real tonic servers on loopback: circuit
//! breakers open on a dead downstream and close on its recovery, deadlines cut slow
//! servers, reads are retried through a restart, and overloaded servers shed calls
//! instead of queueing them. A service served in the caller's process is called
//! without its socket, behind the same guards.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod breaker;
mod deadline;
mod in_process;
mod retries;
mod shedding;
mod support;
