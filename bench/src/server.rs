//! The server under load: a running one (`--target`), or an `im serve` this run starts
//! on free loopback ports with a temporary data directory (`--spawn`), or the raw relay
//! served inside this process (`--protocol relay --spawn`).

use crate::cli::{Protocol, ServerArgs};
use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a spawned server may take to come up and become ready.
const STARTUP_LIMIT: Duration = Duration::from_secs(90);
/// How long it may take to stop after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(15);
/// A restarted server whose ports are not free yet (one of the bench's own
/// reconnecting sockets may hold one for a moment) is tried again after this, at
/// most [`RESTART_TRIES`] times within [`STARTUP_LIMIT`].
const RESTART_PAUSE: Duration = Duration::from_millis(250);
const RESTART_TRIES: u32 = 40;

#[derive(Debug)]
pub struct Target {
    pub protocol: Protocol,
    /// Where the server listens: IM's base URL (`http://127.0.0.1:8080`), an XMPP
    /// address (`127.0.0.1:5222`) or the relay's URL (`ws://127.0.0.1:9100`).
    pub base: String,
    /// Processes whose /proc stats are sampled.
    pub pids: Vec<u32>,
    spawned: Option<Spawned>,
}

#[derive(Debug)]
enum Spawned {
    Im(Box<ImServer>),
    Relay {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    },
}

/// A running `im serve`, and how to start it again the same way.
#[derive(Debug)]
struct ImServer {
    child: Child,
    /// The addresses it listens on, kept across restarts.
    http_addr: String,
    admin_addr: String,
    /// Declared last, so its data directory goes after the server stopped.
    command: ImCommand,
}

/// How `im serve` is started.
#[derive(Debug)]
struct ImCommand {
    binary: PathBuf,
    database_url: Option<String>,
    data_dir: tempfile::TempDir,
}

/// How a restart went.
#[derive(Debug, Clone, Copy)]
pub struct Restart {
    /// When the old server was sent SIGTERM.
    pub began: Instant,
    /// From SIGTERM to its exit.
    pub stopped_in: Duration,
    /// From its exit to the new server answering ready.
    pub started_in: Duration,
    /// When the new server answered ready.
    pub ready: Instant,
    /// Tries at starting it: more than one when its ports were still taken.
    pub starts: u32,
    pub pid: u32,
}

impl Target {
    pub async fn prepare(args: &ServerArgs) -> anyhow::Result<Self> {
        let running = |base: String| Self {
            protocol: args.protocol,
            base,
            pids: args.server_pids.clone(),
            spawned: None,
        };
        match (args.protocol, &args.target, args.spawn) {
            (_, Some(_), true) => bail!("choose one of --target and --spawn"),
            (_, None, false) => {
                bail!("say which server to load: --spawn or --target (a loopback address)")
            }
            (Protocol::Im, Some(url), false) => {
                ensure_loopback(url)?;
                Ok(running(url.trim_end_matches('/').to_owned()))
            }
            (Protocol::Im, None, true) => spawn(args).await,
            (Protocol::Xmpp, Some(addr), false) => {
                ensure_loopback_host(addr)?;
                Ok(running(addr.clone()))
            }
            (Protocol::Xmpp, None, true) => bail!(
                "--spawn cannot start an XMPP server: start ejabberd with \
                 bench/ejabberd/start.sh and pass --target 127.0.0.1:5222"
            ),
            (Protocol::Relay, Some(url), false) => {
                let rest = url
                    .strip_prefix("ws://")
                    .context("--target must be a ws:// URL for the relay")?;
                ensure_loopback_host(rest)?;
                Ok(running(url.trim_end_matches('/').to_owned()))
            }
            (Protocol::Relay, None, true) => spawn_relay().await,
        }
    }

    pub fn spawned(&self) -> bool {
        self.spawned.is_some()
    }

    /// Stops a spawned server (SIGTERM, then SIGKILL); nothing for a target.
    pub async fn shutdown(self) {
        match self.spawned {
            None => {}
            Some(Spawned::Relay { stop, task }) => {
                let _ = stop.send(());
                let _ = task.await;
            }
            Some(Spawned::Im(mut server)) => {
                stop(&mut server.child).await;
                drop(server); // the data directory, after the server stopped writing there
            }
        }
    }

    /// Restarts a spawned `im serve` as an operator would: SIGTERM (SIGKILL after
    /// [`STOP_LIMIT`]), then the same binary again on the same ports and the same data
    /// directory, so its data survives. Returns once the new server answers ready.
    pub async fn restart(&mut self) -> anyhow::Result<Restart> {
        let Some(Spawned::Im(server)) = &mut self.spawned else {
            bail!("only a server this run started (--spawn) can be restarted");
        };
        let began = Instant::now();
        stop(&mut server.child).await;
        let stopped = Instant::now();
        let deadline = stopped + STARTUP_LIMIT;
        let mut starts = 0;
        let up = loop {
            starts += 1;
            let (http, admin) = (&server.http_addr, &server.admin_addr);
            match launch(&server.command, http, admin, deadline, READY_POLL_FAST).await {
                Ok(up) => break up,
                Err(error)
                    if starts < RESTART_TRIES && Instant::now() + RESTART_PAUSE < deadline =>
                {
                    eprintln!("im-bench: the restarted server did not come up ({error:#}); again");
                    tokio::time::sleep(RESTART_PAUSE).await;
                }
                Err(error) => return Err(error.context("restart the server")),
            }
        };
        let ready = Instant::now();
        server.child = up.child;
        self.pids = vec![up.pid];
        Ok(Restart {
            began,
            stopped_in: stopped - began,
            started_in: ready - stopped,
            ready,
            starts,
            pid: up.pid,
        })
    }
}

/// SIGTERM, and SIGKILL if it has not exited within [`STOP_LIMIT`].
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(STOP_LIMIT, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// The default `im` binary: next to this executable (`target/<profile>/im`), or one
/// level up when this is a test binary in `target/<profile>/deps/`.
pub fn default_im_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("im"))
        .find(|candidate| candidate.is_file())
}

/// An `http://` URL must name a loopback host: the benchmarks send load nowhere else.
pub fn ensure_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .context("--target must be an http:// URL")?;
    ensure_loopback_host(rest)
}

/// `host[:port][/path]` must name a loopback host.
fn ensure_loopback_host(rest: &str) -> anyhow::Result<()> {
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _port)| host);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        bail!("--target must be a loopback address (127.0.0.1), not {host:?}");
    }
    Ok(())
}

async fn spawn(args: &ServerArgs) -> anyhow::Result<Target> {
    let binary = match &args.im_bin {
        Some(path) => path.clone(),
        None => default_im_binary().context(
            "no `im` binary next to im-bench: build it (cargo build -p im) or pass --im-bin",
        )?,
    };
    let command = ImCommand {
        binary,
        database_url: args.database_url.clone(),
        data_dir: tempfile::tempdir().context("create a data directory")?,
    };
    let deadline = Instant::now() + STARTUP_LIMIT;
    let up = launch(&command, "127.0.0.1:0", "127.0.0.1:0", deadline, READY_POLL).await?;
    let server = ImServer {
        child: up.child,
        http_addr: up.http,
        admin_addr: up.admin,
        command,
    };
    Ok(Target {
        protocol: Protocol::Im,
        base: format!("http://{}", server.http_addr),
        pids: vec![up.pid],
        spawned: Some(Spawned::Im(Box::new(server))),
    })
}

/// A started `im serve` that answers ready.
struct Up {
    child: Child,
    pid: u32,
    http: String,
    admin: String,
}

/// Starts `im serve` as `server` says, listening on `http_addr` and `admin_addr`
/// (port 0: any free port), and waits until it is ready.
async fn launch(
    server: &ImCommand,
    http_addr: &str,
    admin_addr: &str,
    deadline: Instant,
    poll: Duration,
) -> anyhow::Result<Up> {
    let binary = &server.binary;
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("IM__") {
            command.env_remove(key);
        }
    }
    command
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .args([
            "serve",
            "--http-addr",
            http_addr,
            "--admin-addr",
            admin_addr,
        ])
        // the gateway's per-user and per-connection quotas would refuse a load test
        .env("IM__GATEWAY__RATE_LIMITS__ENABLED", "false")
        .env("IM__LOG__FORMAT", "json")
        // only the startup lines we read, and warnings: request logs would cost CPU
        .env("IM_LOG", "warn,im::serve=info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    // Freed memory returned to the kernel at once, so RSS deltas (M1's memory per
    // connection) count what connections hold, not the setup's freed argon2 buffers
    // (19 MiB each, at most one per core at a time):
    // - glibc raises its mmap threshold after big frees and keeps such blocks in the
    //   heap, where connections later reuse them (deltas near zero); a fixed threshold
    //   returns them, smaller allocations are unchanged;
    // - mimalloc (im's default allocator) returns freed pages lazily, after a delay:
    //   it then gives back the setup's buffers while connections open (deltas below
    //   zero); a delay of 0 returns them when freed.
    for (variable, value) in [
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
        ("MIMALLOC_PURGE_DELAY", "0"),
    ] {
        if std::env::var_os(variable).is_none() {
            command.env(variable, value);
        }
    }
    if let Some(url) = &server.database_url {
        command.env("IM__DATABASE__URL", url);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("start {}", binary.display()))?;
    let pid = child.id().context("the spawned server has no pid")?;
    let stdout = child
        .stdout
        .take()
        .context("no stdout of the spawned server")?;
    let mut lines = BufReader::new(stdout).lines();

    let (http, admin) = loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .context("im did not come up in time")?
            .context("read the server's output")?
            .context("im exited before it came up")?;
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["message"] == "im is up" {
            let http = event["http_addr"].as_str().unwrap_or_default().to_owned();
            let admin = event["admin_addr"].as_str().unwrap_or_default().to_owned();
            break (http, admin);
        }
    };
    // Keep reading, or a full pipe would stall the server's logging.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    if http.is_empty() {
        bail!("the spawned server runs no gateway");
    }
    wait_ready(&admin, deadline, poll).await?;
    Ok(Up {
        child,
        pid,
        http,
        admin,
    })
}

/// The relay on a free loopback port, served by this process: its CPU and memory
/// would be the bench's too, so none are reported.
async fn spawn_relay() -> anyhow::Result<Target> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind the relay")?;
    let addr = listener.local_addr().context("the relay's address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::relay::run(listener, async {
        let _ = stopped.await;
    }));
    Ok(Target {
        protocol: Protocol::Relay,
        base: format!("ws://{addr}"),
        pids: Vec::new(),
        spawned: Some(Spawned::Relay { stop, task }),
    })
}

/// How often `/readyz` is asked while a server starts; after a restart, more often,
/// since the time to ready is measured.
const READY_POLL: Duration = Duration::from_millis(100);
const READY_POLL_FAST: Duration = Duration::from_millis(10);

/// Polls the admin `/readyz` every `poll` until it answers 200, as a load balancer would.
async fn wait_ready(admin: &str, deadline: Instant, poll: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .context("build the HTTP client")?;
    let url = format!("http://{admin}/readyz");
    while Instant::now() < deadline {
        if let Ok(response) = http.get(&url).send().await
            && response.status().as_u16() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(poll).await;
    }
    bail!("im did not become ready ({url})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_loopback() {
        assert!(ensure_loopback("http://127.0.0.1:8080").is_ok());
        assert!(ensure_loopback("http://localhost:8080/").is_ok());
        assert!(ensure_loopback("http://[::1]:8080").is_ok());
        assert!(ensure_loopback("http://10.0.0.1:8080").is_err());
        assert!(ensure_loopback("https://127.0.0.1").is_err());
        assert!(ensure_loopback_host("127.0.0.1:5222").is_ok());
        assert!(ensure_loopback_host("192.168.1.2:5222").is_err());
    }
}
