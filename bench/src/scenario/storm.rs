//! M2: connect storm. N logged-in users open their WebSockets all at once, at most
//! `concurrency` handshakes in flight; each upgrade carries the token the gateway must
//! check. Reports handshakes per second and their latency.

use super::{Bench, Outcome, close_all};
use crate::cli::StormArgs;
use crate::client::Live;
use crate::metrics::Latency;
use crate::report::Step;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::Instant;

pub(super) async fn run(bench: &Bench, args: &StormArgs) -> anyhow::Result<Outcome> {
    let accounts = bench.accounts(args.users).await?;
    let live = Arc::new(Live::default());
    let before = bench.sample();
    let started = Instant::now();
    let (connections, errors) = bench
        .connect(&accounts, &live, None, args.concurrency)
        .await;
    let elapsed = started.elapsed();
    let after = bench.sample();
    let mut handshakes = Latency::new();
    for connection in &connections {
        handshakes.record_us(u64::try_from(connection.handshake.as_micros()).unwrap_or(u64::MAX));
    }
    let opened = connections.len() as u64;
    let inboxes = close_all(connections).await;

    let seconds = elapsed.as_secs_f64();
    let usage = bench.usage(before, after, elapsed, 0);
    let mut step = Step {
        label: format!("{} handshakes", args.users),
        connections: opened,
        duration_s: seconds,
        sent: args.users as u64,
        acked: opened,
        errors,
        throughput_per_s: (seconds > 0.0).then(|| opened as f64 / seconds),
        disconnects: inboxes.iter().filter(|i| i.disconnected.is_some()).count() as u64,
        server: usage.server,
        bench_cpu_percent: usage.bench_cpu_percent,
        ..Step::default()
    };
    step.add_latency("handshake", &handshakes);
    let params = serde_json::json!({"users": args.users, "concurrency": args.concurrency});
    Ok(("m2", "connect storm", params, vec![step], BTreeMap::new()))
}
