//! Command-line interface: which server to load, which scenario, at what scale.

use crate::dial::SourceAddrs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Load generator for IM: logs in users, holds their WebSockets and drives one scenario
/// on an open-loop schedule. Prints a table; `--json` also writes the report as JSON.
///
/// Either `--spawn` (starts `im serve` on free loopback ports with a temporary data
/// directory and rate limits off) or `--target http://127.0.0.1:8080` (a running server:
/// turn its rate limits off with `IM__GATEWAY__RATE_LIMITS__ENABLED=false`, and pass its
/// pid(s) with `--server-pid` to have CPU and memory reported).
///
/// For the comparison (bench/compare.sh), M1 and M3 also run against an XMPP server
/// (`--protocol xmpp --target 127.0.0.1:5222`, ejabberd from bench/ejabberd/start.sh)
/// and against the raw relay (`--protocol relay --target ws://127.0.0.1:PORT`, served by
/// `im-bench relay`).
#[derive(Debug, Parser)]
#[command(name = "im-bench", version)]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Also write the report as JSON to this file.
    #[arg(long, global = true, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// How long to wait, after the last send, for acks and deliveries still in flight.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Concurrent REST calls while creating users, friendships and conversations, and
    /// concurrent WebSocket handshakes while connecting (M2 has its own).
    #[arg(long, global = true, default_value_t = 16)]
    pub setup_concurrency: usize,
    /// Bind each client socket (WebSocket, XMPP) to one of these loopback source
    /// addresses in turn before it connects: a list and/or inclusive ranges, e.g.
    /// `127.0.0.1-127.0.0.8` or `127.0.0.1,127.0.0.2,::1`. One source address offers
    /// about 28,000 ephemeral ports. REST calls keep the default source.
    #[arg(long, global = true, value_name = "ADDRS", value_parser = SourceAddrs::parse)]
    pub source_addrs: Option<SourceAddrs>,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What the server under load speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// IM: REST for setup, WebSocket for the hot path.
    #[default]
    Im,
    /// XMPP on plain TCP (ejabberd), with accounts made beforehand; M1 and M3 only.
    Xmpp,
    /// The raw WebSocket relay of `im-bench relay`; M1 and M3 only.
    Relay,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Im => "im",
            Self::Xmpp => "xmpp",
            Self::Relay => "relay",
        }
    }
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// What the server speaks.
    #[arg(long, global = true, value_enum, default_value_t = Protocol::Im)]
    pub protocol: Protocol,
    /// The running server (loopback only): IM's base URL (http://127.0.0.1:8080), an
    /// XMPP c2s address (127.0.0.1:5222) or the relay's URL (ws://127.0.0.1:9100).
    #[arg(long, global = true, value_name = "URL")]
    pub target: Option<String>,
    /// Start `im serve` for this run and stop it afterwards (with `--protocol relay`:
    /// serve the relay inside this process, then its CPU and memory are not reported).
    #[arg(long, global = true)]
    pub spawn: bool,
    /// The `im` binary for `--spawn`. Default: `im` next to this binary (same target dir).
    #[arg(long, global = true, value_name = "PATH")]
    pub im_bin: Option<PathBuf>,
    /// `IM__DATABASE__URL` for the spawned server, e.g.
    /// `mysql://root@127.0.0.1:3306/bench_{service}` (M5 on MariaDB). Default: SQLite.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Server processes whose CPU time and memory to sample from /proc (with `--target`;
    /// a spawned server is sampled anyway). Repeat or separate with commas.
    #[arg(
        long = "server-pid",
        visible_alias = "server-pids",
        global = true,
        value_delimiter = ',',
        value_name = "PID"
    )]
    pub server_pids: Vec<u32>,
    /// Database processes (e.g. MariaDB's) whose CPU time and memory to report beside
    /// the server's. Repeat or separate with commas.
    #[arg(
        long = "db-pid",
        global = true,
        value_delimiter = ',',
        value_name = "PID"
    )]
    pub database_pids: Vec<u32>,
    #[command(flatten)]
    pub xmpp: XmppArgs,
}

/// The XMPP accounts: PREFIX0 … PREFIX(N-1) at DOMAIN, all with one password, made
/// beforehand (bench/ejabberd/start.sh makes them in ejabberd's database).
#[derive(Debug, Clone, Args)]
pub struct XmppArgs {
    #[arg(
        long,
        global = true,
        default_value = "localhost",
        value_name = "DOMAIN"
    )]
    pub xmpp_domain: String,
    #[arg(long, global = true, default_value = "bench", value_name = "PREFIX")]
    pub xmpp_user_prefix: String,
    #[arg(long, global = true, default_value = "bench", value_name = "PASSWORD")]
    pub xmpp_password: String,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// M1: N logged-in idle connections held with heartbeats: server memory per
    /// connection above baseline, idle CPU, ping round trips.
    M1(IdleArgs),
    /// M2: connect storm: WebSocket handshakes (with token checks) per second and their
    /// latency.
    M2(StormArgs),
    /// M3: 1:1 end-to-end latency at fixed rates, and the highest of them keeping p99
    /// under the target.
    M3(DirectArgs),
    /// M4: fan-out in one group with every member online: deliveries per second and
    /// send-to-last-recipient latency.
    M4(FanoutArgs),
    /// M5: stored messages per second through REST sends from many concurrent senders
    /// (an answer means committed), and the send→commit latency.
    M5(StoreArgs),
    /// Not a scenario: serve the raw relay (the comparison's ceiling) until SIGTERM or
    /// Ctrl-C. No auth, no storage: a client connects to /u/<user>, and each text frame
    /// goes unchanged to the user its first word names.
    Relay(RelayArgs),
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct IdleArgs {
    /// Connections (one per user).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// How long to hold the connections once all are open.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Interval of each connection's `ping` frame.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub heartbeat: Duration,
}

#[derive(Debug, Args)]
pub struct StormArgs {
    /// Connections to open (one per user).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Once all are connected, restart the server (`--spawn` only: SIGTERM, then `im
    /// serve` again on the same ports and data directory) and measure how long the
    /// clients, reconnecting with jittered exponential backoff, take to be back.
    #[arg(long)]
    pub restart: bool,
    /// With `--restart`: how long a client keeps trying to reconnect before it gives up.
    #[arg(long, default_value = "120s", value_parser = parse_duration, requires = "restart")]
    pub reconnect_limit: Duration,
}

#[derive(Debug, Args)]
pub struct DirectArgs {
    /// Users, paired into users/2 direct conversations.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Offered rates in messages per second, one step each.
    #[arg(long, value_delimiter = ',', default_value = "1000,2000,5000")]
    pub rate: Vec<f64>,
    /// Sending time of each step.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// The end-to-end p99 a rate must stay under to count as kept.
    #[arg(long, default_value_t = 50.0)]
    pub p99_target_ms: f64,
}

#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// Members of the group, all online.
    #[arg(long, default_value_t = 500)]
    pub group_size: usize,
    /// Messages per second sent into the group.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Sending time.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Members taking turns at sending (the first ones). Default: all.
    #[arg(long)]
    pub senders: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Senders, paired into users/2 direct conversations.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Offered messages per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Sending time.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// REST sends in flight at most; later ones queue, and their wait counts in latency.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
}

/// `250ms`, `5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 500ms, 5s, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text:?} (ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_after_the_scenario() {
        let cli = Cli::try_parse_from([
            "im-bench",
            "m3",
            "--spawn",
            "--users",
            "4",
            "--rate",
            "10,20",
            "--duration",
            "1s",
            "--json",
            "r.json",
        ])
        .unwrap();
        assert!(cli.server.spawn);
        let Scenario::M3(args) = cli.scenario else {
            panic!("m3 expected")
        };
        assert_eq!(args.rate, vec![10.0, 20.0]);
        assert_eq!(cli.server.protocol, Protocol::Im);
    }

    #[test]
    fn source_addresses_and_the_restart() {
        let cli = Cli::try_parse_from([
            "im-bench",
            "m2",
            "--spawn",
            "--restart",
            "--source-addrs",
            "127.0.0.1-127.0.0.2,::1",
        ])
        .unwrap();
        let sources = cli.source_addrs.unwrap();
        assert_eq!(sources.addrs().len(), 3);
        let Scenario::M2(args) = cli.scenario else {
            panic!("m2 expected")
        };
        assert!(args.restart);
        assert_eq!(args.reconnect_limit, Duration::from_secs(120));
        let refused = Cli::try_parse_from(["im-bench", "m1", "--source-addrs", "10.0.0.1"])
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not a loopback address"), "{refused}");
        assert!(
            Cli::try_parse_from(["im-bench", "m2", "--reconnect-limit", "5s"]).is_err(),
            "--reconnect-limit needs --restart"
        );
    }

    #[test]
    fn another_protocol_and_the_relay_server() {
        let cli = Cli::try_parse_from([
            "im-bench",
            "--protocol",
            "xmpp",
            "m1",
            "--target",
            "127.0.0.1:5222",
            "--xmpp-user-prefix",
            "u",
            "--server-pid",
            "1,2",
        ])
        .unwrap();
        assert_eq!(cli.server.protocol, Protocol::Xmpp);
        assert_eq!(cli.server.xmpp.xmpp_user_prefix, "u");
        assert_eq!(cli.server.xmpp.xmpp_domain, "localhost");
        assert_eq!(cli.server.server_pids, [1, 2]);
        let cli = Cli::try_parse_from(["im-bench", "relay", "--listen", "127.0.0.1:0"]).unwrap();
        let Scenario::Relay(args) = cli.scenario else {
            panic!("relay expected")
        };
        assert!(args.listen.ip().is_loopback());
    }
}
