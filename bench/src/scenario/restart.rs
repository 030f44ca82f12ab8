//! M2's `--restart`: the server is restarted under N connected clients, and they come
//! back as real clients do. Each notices its connection end, waits a jittered
//! exponential backoff (100 ms doubling to 2 s) and reconnects with its token; a token
//! the new server refuses (401) is refreshed, or failing that the user logs in again.
//! A server asking to wait (503/429 with `Retry-After`) is obeyed.
//!
//! Measured: from the restart (SIGTERM) and from the new server's readiness until every
//! client is back, handshakes per second meanwhile, each client's time from noticing
//! the close to being back, every failed try by reason, and which token each used.

use super::{Bench, by_source};
use crate::client::{Api, Backoff, Connection, Live};
use crate::clock::Clock;
use crate::dial::Dialer;
use crate::metrics::Latency;
use crate::population::{Account, PASSWORD};
use crate::procstat::ProcWatch;
use crate::report::Step;
use crate::server::Target;
use crate::session::Session;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

/// The first backoff's ceiling, doubling with each failed try up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
/// The longest `Retry-After` a client obeys.
const RETRY_AFTER_LIMIT: Duration = Duration::from_secs(10);
/// Tries per client at most (besides the time limit).
const MAX_TRIES: u32 = 200;
/// How a client came to hold the token it reconnected with.
const KEPT: &str = "kept";
const REFRESHED: &str = "refreshed";
const LOGGED_IN_AGAIN: &str = "logged_in_again";

/// What every reconnecting client shares.
struct Rejoining {
    api: Api,
    dialer: Arc<Dialer>,
    clock: Clock,
    live: Arc<Live>,
    /// How long a client waits for its connection to end, and then how long it keeps
    /// trying to reconnect.
    limit: Duration,
    /// Mixed into each client's jitter.
    seed: u64,
}

/// How one client's reconnection went.
struct Rejoined {
    /// When it noticed its connection end, and why it ended.
    noticed: Option<(Instant, String)>,
    /// When it was connected (and served) again, and that handshake's time.
    back: Option<(Instant, Duration)>,
    connection: Option<Connection>,
    tries: u32,
    failures: BTreeMap<String, u64>,
    /// [`KEPT`], [`REFRESHED`] or [`LOGGED_IN_AGAIN`].
    token: &'static str,
}

/// Restarts the server under `connections` (of `accounts`) and measures the clients'
/// return. Returns the step and the summary entries; closes every connection.
pub(super) async fn run(
    bench: &Bench,
    target: &mut Target,
    accounts: &[Account],
    connections: Vec<Session>,
    live: &Arc<Live>,
    limit: Duration,
) -> anyhow::Result<(Step, BTreeMap<String, serde_json::Value>)> {
    let shared = Arc::new(Rejoining {
        api: bench.api.clone(),
        dialer: bench.service.dialer().clone(),
        clock: bench.clock,
        live: live.clone(),
        limit,
        seed: bench.clock.now_us(),
    });
    let clients = connections.len();
    let mut tasks = Vec::with_capacity(clients);
    for session in connections {
        let Some(connection) = session.into_im() else {
            anyhow::bail!("--restart runs on IM only");
        };
        let account = accounts[connection.owner()].clone();
        tasks.push(tokio::spawn(rejoin(account, connection, shared.clone())));
    }
    let own_before = bench.own.sample().ok().flatten();
    let restart = match target.restart().await {
        Ok(restart) => restart,
        Err(error) => {
            for task in &tasks {
                task.abort();
            }
            return Err(error);
        }
    };
    let server = ProcWatch::new(vec![restart.pid]);
    let server_before = server.sample().ok().flatten();
    let mut outcomes = Vec::with_capacity(clients);
    let mut lost_tasks = 0u64;
    for task in tasks {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(_) => lost_tasks += 1,
        }
    }
    let finished = Instant::now();
    let server_after = server.sample().ok().flatten();
    let own_after = bench.own.sample().ok().flatten();

    let mut failures = BTreeMap::new();
    let mut tokens: BTreeMap<&str, u64> = BTreeMap::new();
    let mut close_reasons: BTreeMap<String, u64> = BTreeMap::new();
    let (mut handshakes, mut reconnect, mut from_restart, mut noticed_after) = (
        Latency::new(),
        Latency::new(),
        Latency::new(),
        Latency::new(),
    );
    let mut tries = 0u64;
    let (mut first_back, mut last_back): (Option<Instant>, Option<Instant>) = (None, None);
    let mut never_noticed = 0u64;
    let mut gave_up = 0u64;
    for outcome in &outcomes {
        tries += u64::from(outcome.tries);
        super::add_errors(&mut failures, &outcome.failures);
        match &outcome.noticed {
            Some((at, reason)) => {
                noticed_after.record_us(micros(at.saturating_duration_since(restart.began)));
                *close_reasons.entry(reason.clone()).or_default() += 1;
            }
            None => never_noticed += 1,
        }
        let Some((back, handshake)) = outcome.back else {
            gave_up += u64::from(outcome.noticed.is_some());
            continue;
        };
        *tokens.entry(outcome.token).or_default() += 1;
        handshakes.record_us(micros(handshake));
        from_restart.record_us(micros(back.saturating_duration_since(restart.began)));
        if let Some((noticed, _)) = &outcome.noticed {
            reconnect.record_us(micros(back.saturating_duration_since(*noticed)));
        }
        first_back = Some(first_back.map_or(back, |t| t.min(back)));
        last_back = Some(last_back.map_or(back, |t| t.max(back)));
    }
    if never_noticed > 0 {
        *failures.entry("never disconnected".to_owned()).or_default() += never_noticed;
    }
    if gave_up > 0 {
        *failures.entry("gave up".to_owned()).or_default() += gave_up;
    }
    if lost_tasks > 0 {
        *failures.entry("client task failed".to_owned()).or_default() += lost_tasks;
    }
    let reconnected = outcomes.iter().filter(|o| o.back.is_some()).count() as u64;
    let all_back = reconnected == clients as u64;
    let sources = by_source(
        outcomes
            .iter()
            .filter_map(|o| o.connection.as_ref().map(|c| c.local_addr)),
    );
    // Handshakes per second from the server's return (its readiness, or the first
    // client back if earlier: it listens a little before it answers ready).
    let rate = first_back.zip(last_back).and_then(|(first, last)| {
        let span = last.saturating_duration_since(first.min(restart.ready));
        (span > Duration::ZERO).then(|| reconnected as f64 / span.as_secs_f64())
    });
    let seconds_since = |from: Instant| last_back.map(|last| signed_seconds(from, last));

    let held: Vec<Connection> = outcomes.into_iter().filter_map(|o| o.connection).collect();
    futures::future::join_all(held.into_iter().map(Connection::close)).await;

    let span = finished.saturating_duration_since(restart.ready);
    let mut step = Step {
        label: format!("restart: {clients} reconnects"),
        connections: reconnected,
        duration_s: last_back
            .map_or(finished, |t| t)
            .saturating_duration_since(restart.began)
            .as_secs_f64(),
        sent: clients as u64,
        acked: reconnected,
        errors: failures,
        throughput_per_s: rate,
        disconnects: clients as u64 - never_noticed,
        server: server_before
            .zip(server_after)
            .map(|(b, a)| server.usage(b, a, span, 0)),
        bench_cpu_percent: own_before
            .zip(own_after)
            .map(|(b, a)| bench.own.usage(b, a, span, 0).cpu_percent),
        ..Step::default()
    };
    step.add_latency("handshake", &handshakes);
    step.add_latency("reconnect", &reconnect);
    step.add_latency("restart_to_reconnect", &from_restart);
    step.add_latency("close_noticed", &noticed_after);
    let summary = BTreeMap::from([
        (
            "restart_stop_s".to_owned(),
            serde_json::json!(restart.stopped_in.as_secs_f64()),
        ),
        (
            "restart_start_s".to_owned(),
            serde_json::json!(restart.started_in.as_secs_f64()),
        ),
        (
            "restart_server_starts".to_owned(),
            serde_json::json!(restart.starts),
        ),
        (
            "restart_to_all_reconnected_s".to_owned(),
            serde_json::json!(all_back.then(|| seconds_since(restart.began)).flatten()),
        ),
        (
            "ready_to_all_reconnected_s".to_owned(),
            serde_json::json!(all_back.then(|| seconds_since(restart.ready)).flatten()),
        ),
        ("reconnected".to_owned(), serde_json::json!(reconnected)),
        ("reconnect_tries".to_owned(), serde_json::json!(tries)),
        ("reconnect_tokens".to_owned(), serde_json::json!(tokens)),
        (
            "restart_close_reasons".to_owned(),
            serde_json::json!(close_reasons),
        ),
        (
            "reconnections_by_source".to_owned(),
            serde_json::json!(sources),
        ),
    ]);
    Ok((step, summary))
}

/// One client: waits for its connection to end, then reconnects as a real client
/// would, within the limit in time and [`MAX_TRIES`].
async fn rejoin(mut account: Account, connection: Connection, shared: Arc<Rejoining>) -> Rejoined {
    let owner = account.index;
    let mut outcome = Rejoined {
        noticed: None,
        back: None,
        connection: None,
        tries: 0,
        failures: BTreeMap::new(),
        token: KEPT,
    };
    let inbox = match connection.ended(shared.limit).await {
        Ok(inbox) => inbox,
        Err(still_open) => {
            outcome.connection = Some(still_open);
            return outcome;
        }
    };
    let noticed = Instant::now();
    let reason = inbox.disconnected.unwrap_or_else(|| "ended".to_owned());
    outcome.noticed = Some((noticed, short(&reason)));
    let deadline = noticed + shared.limit;
    let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP, shared.seed ^ owner as u64);
    let mut wait = backoff.next_wait();
    while outcome.tries < MAX_TRIES && Instant::now() + wait < deadline {
        tokio::time::sleep(wait).await;
        outcome.tries += 1;
        let url = shared.api.ws_url(&account.token);
        let opened = Connection::open(
            url,
            &shared.dialer,
            owner,
            shared.clock,
            shared.live.clone(),
            None,
        )
        .await;
        let error = match opened {
            Ok(connection) => {
                outcome.back = Some((Instant::now(), connection.handshake));
                outcome.connection = Some(connection);
                return outcome;
            }
            Err(error) => error,
        };
        let refusal = Refusal::of(&error);
        *outcome.failures.entry(refusal.label()).or_default() += 1;
        wait = backoff.next_wait();
        match refusal {
            Refusal::Unauthorized => match renew(&shared.api, &mut account).await {
                Ok(how) => {
                    outcome.token = how;
                    backoff.reset();
                    wait = Duration::ZERO; // a fresh token: try it at once
                }
                Err(error) => {
                    *outcome
                        .failures
                        .entry(short(&format!("{error:#}")))
                        .or_default() += 1;
                }
            },
            Refusal::Busy(_, Some(retry_after)) => {
                backoff.retry_after(retry_after, RETRY_AFTER_LIMIT);
                wait = backoff.next_wait();
            }
            Refusal::Busy(_, None) | Refusal::Other(_) => {}
        }
    }
    outcome
}

/// A token the server refused: refresh it, or log in again if the refresh is refused
/// too. Returns how the new token came.
async fn renew(api: &Api, account: &mut Account) -> anyhow::Result<&'static str> {
    let (tokens, how) = match api.refresh(&account.refresh_token).await {
        Ok(tokens) => (tokens, REFRESHED),
        Err(_) => (
            api.login(&account.username, PASSWORD).await?,
            LOGGED_IN_AGAIN,
        ),
    };
    account.token = tokens.access;
    account.refresh_token = tokens.refresh;
    Ok(how)
}

/// Why a reconnection try failed, as far as the client acts on it.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// 401: the token is no good here.
    Unauthorized,
    /// 503 or 429 with its error code, and the `Retry-After` asked for.
    Busy(String, Option<Duration>),
    /// Anything else (refused while the server is down, reset, timed out, …).
    Other(String),
}

impl Refusal {
    fn of(error: &anyhow::Error) -> Self {
        for cause in error.chain() {
            if let Some(tungstenite::Error::Http(response)) = cause.downcast_ref() {
                let status = response.status().as_u16();
                let code = response
                    .body()
                    .as_deref()
                    .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                    .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                let label = format!("HTTP {status} {code}").trim_end().to_owned();
                return match status {
                    401 => Self::Unauthorized,
                    429 | 503 => Self::Busy(
                        label,
                        response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs),
                    ),
                    _ => Self::Other(label),
                };
            }
            let io = match cause.downcast_ref() {
                Some(tungstenite::Error::Io(io)) => Some(io),
                _ => cause.downcast_ref::<std::io::Error>(),
            };
            if let Some(io) = io {
                return Self::Other(format!("io: {}", io.kind()));
            }
            if cause.is::<tokio::time::error::Elapsed>() {
                return Self::Other(short(&error.to_string()));
            }
        }
        Self::Other(short(&format!("{error:#}")))
    }

    fn label(&self) -> String {
        match self {
            Self::Unauthorized => "HTTP 401".to_owned(),
            Self::Busy(label, _) => label.clone(),
            Self::Other(label) => label.clone(),
        }
    }
}

/// A reason cut to a label's length.
fn short(text: &str) -> String {
    let mut text = text.lines().next().unwrap_or_default().to_owned();
    if text.len() > 80 {
        let mut end = 80;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `to − from` in seconds, negative when `to` came first.
fn signed_seconds(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64()
    } else {
        -(from - to).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    fn http_error(status: u16, retry_after: Option<&str>) -> anyhow::Error {
        let mut response = tungstenite::http::Response::builder().status(status);
        if let Some(value) = retry_after {
            response = response.header("Retry-After", value);
        }
        let body = (status == 503).then(|| br#"{"error":{"code":"overloaded"}}"#.to_vec());
        let error = tungstenite::Error::Http(Box::new(response.body(body).unwrap()));
        anyhow::Error::new(error).context("WebSocket handshake")
    }

    #[test]
    fn tells_refusals_apart() {
        assert_eq!(Refusal::of(&http_error(401, None)), Refusal::Unauthorized);
        assert_eq!(
            Refusal::of(&http_error(503, Some("3"))),
            Refusal::Busy(
                "HTTP 503 overloaded".to_owned(),
                Some(Duration::from_secs(3))
            )
        );
        assert_eq!(
            Refusal::of(&http_error(429, None)),
            Refusal::Busy("HTTP 429".to_owned(), None)
        );
        assert_eq!(
            Refusal::of(&http_error(404, None)),
            Refusal::Other("HTTP 404".to_owned())
        );
        let refused: anyhow::Result<()> =
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into());
        let refused = refused.context("connect to 127.0.0.1:1").unwrap_err();
        assert_eq!(
            Refusal::of(&refused).label(),
            "io: connection refused",
            "{refused:#}"
        );
        let other = anyhow::anyhow!("the socket closed before it was ready");
        assert_eq!(
            Refusal::of(&other).label(),
            "the socket closed before it was ready"
        );
    }
}
