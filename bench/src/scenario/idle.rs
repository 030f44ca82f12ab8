//! M1: idle connections. N logged-in users connect and stay connected, each pinging at
//! the heartbeat interval. Reports the server's resident memory per connection above
//! the baseline before connecting, its CPU while idle, and ping round trips.

use super::{Bench, Outcome, close_all};
use crate::cli::IdleArgs;
use crate::client::Live;
use crate::metrics::Latency;
use crate::report::Step;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::Instant;

pub(super) async fn run(bench: &Bench, args: &IdleArgs) -> anyhow::Result<Outcome> {
    let accounts = bench.accounts(args.users).await?;
    let live = Arc::new(Live::default());
    let baseline = bench.sample();
    let connecting = Instant::now();
    let (connections, errors) = bench
        .connect(
            &accounts,
            &live,
            Some(args.heartbeat),
            bench.setup_concurrency,
        )
        .await;
    let connect_time = connecting.elapsed();
    let mut handshakes = Latency::new();
    for connection in &connections {
        handshakes.record_us(u64::try_from(connection.handshake.as_micros()).unwrap_or(u64::MAX));
    }
    let connected = bench.sample();
    let sources = super::by_source(connections.iter().map(|c| c.local_addr));
    let holding = Instant::now();
    tokio::time::sleep(args.duration).await;
    let after = bench.sample();
    let held = holding.elapsed();
    let inboxes = close_all(connections).await;

    let mut pings = Latency::new();
    let mut step_errors = errors;
    for inbox in &inboxes {
        pings.merge(&inbox.pongs);
        super::add_errors(&mut step_errors, &inbox.errors);
    }
    let opened = inboxes.len() as u64;
    let memory_per_connection_kib = match (baseline.server, connected.server) {
        (Some(baseline), Some(connected)) if opened > 0 => {
            Some((connected.rss_kib as f64 - baseline.rss_kib as f64) / opened as f64)
        }
        _ => None,
    };
    let usage = bench.usage(connected, after, held, 0);
    let mut server = usage.server;
    if let (Some(server), Some(baseline)) = (server.as_mut(), baseline.server) {
        // the baseline before any connection
        server.rss_before_kib = baseline.rss_kib;
        server.open_files_before = baseline.open_files;
    }
    let mut step = Step {
        label: format!("{} idle", args.users),
        connections: opened,
        duration_s: held.as_secs_f64(),
        sent: args.users as u64,
        acked: opened,
        errors: step_errors,
        disconnects: inboxes.iter().filter(|i| i.disconnected.is_some()).count() as u64,
        memory_per_connection_kib,
        server,
        database: usage.database,
        bench_cpu_percent: usage.bench_cpu_percent,
        ..Step::default()
    };
    step.add_latency("handshake", &handshakes);
    step.add_latency("ping", &pings);
    let summary = BTreeMap::from([
        (
            "connect_phase_s".to_owned(),
            serde_json::json!(connect_time.as_secs_f64()),
        ),
        (
            "connections_by_source".to_owned(),
            serde_json::json!(sources),
        ),
    ]);
    let params = serde_json::json!({
        "users": args.users,
        "duration_s": args.duration.as_secs_f64(),
        "heartbeat_s": args.heartbeat.as_secs_f64(),
        "source_addrs": bench.service.dialer().sources(),
    });
    Ok((
        "m1",
        "idle connections with heartbeats",
        params,
        vec![step],
        summary,
    ))
}
