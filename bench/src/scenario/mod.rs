//! The scenarios M1–M5, one module each, over shared plumbing ([`Bench`]).

mod direct;
mod fanout;
mod idle;
mod restart;
mod storage;
mod storm;
mod traffic;

use crate::cli::{Cli, Protocol, Scenario};
use crate::client::{Api, Live};
use crate::clock::Clock;
use crate::dial::Dialer;
use crate::metrics::Inbox;
use crate::population::{self, Account, Conversation};
use crate::procstat::{ProcWatch, ServerUsage, Snapshot};
use crate::report::Report;
use crate::server::Target;
use crate::service::Service;
use crate::session::Session;
use futures::{StreamExt as _, stream};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Runs the scenario the command line names against `target` (M2 with `--restart`
/// restarts it).
pub async fn run(cli: &Cli, target: &mut Target) -> anyhow::Result<Report> {
    let one_to_one = matches!(cli.scenario, Scenario::M1(_) | Scenario::M3(_));
    if target.protocol != Protocol::Im && !one_to_one {
        anyhow::bail!(
            "--protocol {} runs M1 and M3 only; the other scenarios need IM",
            target.protocol.name()
        );
    }
    let dialer = Arc::new(Dialer::new(cli.source_addrs.as_ref()));
    dialer.check_reaches(&target.base).await?;
    let bench = Bench {
        api: Api::new(&target.base)?,
        service: Service::new(target, &cli.server, dialer),
        clock: Clock::new(),
        watch: ProcWatch::new(target.pids.clone()),
        database: ProcWatch::new(cli.server.database_pids.clone()),
        own: ProcWatch::new(vec![std::process::id()]),
        tag: population::run_tag(),
        setup_concurrency: cli.setup_concurrency.max(1),
        drain: cli.drain,
    };
    let (scenario, title, params, steps, summary) = match &cli.scenario {
        Scenario::M1(args) => idle::run(&bench, args).await?,
        Scenario::M2(args) => storm::run(&bench, args, target).await?,
        Scenario::M3(args) => direct::run(&bench, args).await?,
        Scenario::M4(args) => fanout::run(&bench, args).await?,
        Scenario::M5(args) => storage::run(&bench, args).await?,
        Scenario::Relay(_) => anyhow::bail!("`relay` serves the relay; it is not a scenario"),
    };
    Ok(Report {
        scenario: scenario.to_owned(),
        protocol: target.protocol.name().to_owned(),
        title: title.to_owned(),
        target: target.base.clone(),
        spawned: target.spawned(),
        params,
        steps,
        summary,
    })
}

/// What a scenario returns: its name, title, parameters, steps and summary.
type Outcome = (
    &'static str,
    &'static str,
    serde_json::Value,
    Vec<crate::report::Step>,
    BTreeMap<String, serde_json::Value>,
);

/// What every scenario works with.
pub(crate) struct Bench {
    /// IM's REST API (unused by the other protocols).
    pub api: Api,
    pub service: Service,
    pub clock: Clock,
    pub watch: ProcWatch,
    /// The database's processes, when given (`--db-pid`).
    pub database: ProcWatch,
    /// This process: the load generator shares the machine, so its CPU is reported too.
    pub own: ProcWatch,
    /// This run's tag, in usernames and client message ids.
    pub tag: String,
    pub setup_concurrency: usize,
    pub drain: Duration,
}

impl Bench {
    /// `count` users ready to connect (on IM: registered and logged in).
    pub async fn accounts(&self, count: usize) -> anyhow::Result<Vec<Account>> {
        self.service
            .accounts(&self.api, &self.tag, count, self.setup_concurrency)
            .await
    }

    /// The accounts in pairs (0–1, 2–3, …), each pair in its one-to-one conversation.
    pub async fn pairs(&self, accounts: &[Account]) -> anyhow::Result<Vec<Conversation>> {
        self.service
            .pairs(&self.api, accounts, self.setup_concurrency)
            .await
    }

    /// Opens one connection per account, `concurrency` handshakes at a time. Failures
    /// are counted by reason, not fatal: they are part of what is measured.
    pub async fn connect(
        &self,
        accounts: &[Account],
        live: &Arc<Live>,
        heartbeat: Option<Duration>,
        concurrency: usize,
    ) -> (Vec<Session>, BTreeMap<String, u64>) {
        let results: Vec<anyhow::Result<Session>> = stream::iter(accounts)
            .map(|account| {
                self.service
                    .open(&self.api, account, self.clock, live.clone(), heartbeat)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut connections = Vec::with_capacity(results.len());
        let mut errors = BTreeMap::new();
        for result in results {
            match result {
                Ok(connection) => connections.push(connection),
                Err(error) => *errors.entry(failure_label(&error)).or_default() += 1,
            }
        }
        (connections, errors)
    }

    /// A /proc sample of the server and of the bench. A server sample is `None` when it
    /// is not watched or cannot be read (reported as absent, never as zero).
    pub fn sample(&self) -> Sample {
        let read = |watch: &ProcWatch| match watch.sample() {
            Ok(snapshot) => snapshot,
            Err(error) => {
                eprintln!("im-bench: cannot sample /proc: {error:#}");
                None
            }
        };
        Sample {
            server: read(&self.watch),
            database: read(&self.database),
            own: read(&self.own),
        }
    }

    /// What the server and the bench spent between two samples.
    pub fn usage(&self, before: Sample, after: Sample, elapsed: Duration, messages: u64) -> Usage {
        let server = before
            .server
            .zip(after.server)
            .map(|(b, a)| self.watch.usage(b, a, elapsed, messages));
        let database = before
            .database
            .zip(after.database)
            .map(|(b, a)| self.database.usage(b, a, elapsed, messages));
        let bench_cpu_percent = before
            .own
            .zip(after.own)
            .map(|(b, a)| self.own.usage(b, a, elapsed, messages).cpu_percent);
        Usage {
            server,
            database,
            bench_cpu_percent,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub server: Option<Snapshot>,
    pub database: Option<Snapshot>,
    pub own: Option<Snapshot>,
}

pub(crate) struct Usage {
    pub server: Option<ServerUsage>,
    pub database: Option<ServerUsage>,
    pub bench_cpu_percent: Option<f64>,
}

/// Closes every connection at once and returns their inboxes.
pub(crate) async fn close_all(connections: Vec<Session>) -> Vec<Inbox> {
    futures::future::join_all(connections.into_iter().map(Session::close)).await
}

/// Waits until `done()` holds, polling, for at most `limit`; whether it held.
pub(crate) async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A short, stable label for a failure (the first line of its outermost context and
/// cause), to count failures by kind.
fn failure_label(error: &anyhow::Error) -> String {
    let mut label = error
        .chain()
        .take(2)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    label.truncate(80);
    label
}

/// How many connections were bound to each source address (`unknown` where the
/// socket's address could not be read).
pub(crate) fn by_source(
    local_addrs: impl IntoIterator<Item = Option<SocketAddr>>,
) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for addr in local_addrs {
        let source = addr.map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
        *counts.entry(source).or_default() += 1;
    }
    counts
}

/// Merges error counts.
pub(crate) fn add_errors(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (code, n) in from {
        *into.entry(code.clone()).or_default() += n;
    }
}

/// `count` per second over `from_us..to_us` (clock microseconds), if the span is positive.
pub(crate) fn per_second(count: u64, from_us: u64, to_us: u64) -> Option<f64> {
    let span = to_us.checked_sub(from_us).filter(|span| *span > 0)?;
    Some(count as f64 * 1_000_000.0 / span as f64)
}
