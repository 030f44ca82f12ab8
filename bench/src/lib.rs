//! im-bench: a load generator for IM that drives the public API (REST and WebSocket)
//! like real clients do, on an open-loop schedule, and reports what users would notice
//! (latency, loss, duplicates, order) next to what the server paid for it (CPU, memory).
//!
//! The same scenarios drive, for comparison, an XMPP server ([`xmpp`]: ejabberd) and
//! a raw WebSocket relay ([`relay`]) that gives the ceiling.
//!
//! The binary is a thin shell over [`run`]; the smoke tests call the same function.

pub mod cli;
pub mod client;
pub mod clock;
pub mod dial;
pub mod limits;
pub mod metrics;
pub mod population;
pub mod procstat;
pub mod relay;
pub mod report;
pub mod scenario;
pub mod schedule;
pub mod server;
pub mod service;
pub mod session;
pub mod xmpp;

pub use cli::Cli;
pub use report::Report;

/// Prepares the server (spawned or targeted), runs the chosen scenario, stops what it
/// spawned, and returns the report.
pub async fn run(cli: Cli) -> anyhow::Result<Report> {
    let mut target = server::Target::prepare(&cli.server).await?;
    let outcome = scenario::run(&cli, &mut target).await;
    target.shutdown().await;
    outcome
}
