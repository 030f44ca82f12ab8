//! M2: connect storm. N logged-in users open their WebSockets all at once, at most
//! `concurrency` handshakes in flight; each upgrade carries the token the gateway must
//! check. Reports handshakes per second and their latency. With `--restart`, the
//! server is then restarted under them and their return measured ([`super::restart`]).

use super::{Bench, Outcome, by_source, close_all};
use crate::cli::{Protocol, StormArgs};
use crate::client::Live;
use crate::metrics::Latency;
use crate::report::Step;
use crate::server::Target;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::Instant;

pub(super) async fn run(
    bench: &Bench,
    args: &StormArgs,
    target: &mut Target,
) -> anyhow::Result<Outcome> {
    if args.restart {
        anyhow::ensure!(
            target.spawned() && target.protocol == Protocol::Im,
            "--restart restarts a server this run starts: use it with --spawn (IM only)"
        );
    }
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
    let sources = by_source(connections.iter().map(|c| c.local_addr));

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
        server: usage.server,
        bench_cpu_percent: usage.bench_cpu_percent,
        ..Step::default()
    };
    step.add_latency("handshake", &handshakes);
    let mut summary = BTreeMap::from([(
        "connections_by_source".to_owned(),
        serde_json::json!(sources),
    )]);
    let mut steps = Vec::new();
    if args.restart {
        // ended by the server before the restart
        step.disconnects = Live::get(&live.disconnects);
        steps.push(step);
        let (restart, restarted) = super::restart::run(
            bench,
            target,
            &accounts,
            connections,
            &live,
            args.reconnect_limit,
        )
        .await?;
        steps.push(restart);
        summary.extend(restarted);
    } else {
        let inboxes = close_all(connections).await;
        step.disconnects = inboxes.iter().filter(|i| i.disconnected.is_some()).count() as u64;
        steps.push(step);
    }
    let params = serde_json::json!({
        "users": args.users,
        "concurrency": args.concurrency,
        "restart": args.restart,
        "reconnect_limit_s": args.restart.then_some(args.reconnect_limit.as_secs_f64()),
        "source_addrs": bench.service.dialer().sources(),
    });
    Ok(("m2", "connect storm", params, steps, summary))
}
