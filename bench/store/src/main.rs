//! `im-bench-store`: `run` drives the message service's write path and reports; `serve`
//! is the service it spawns (or that is started by hand and given with `--target`).

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use im_bench::cli::parse_duration;
use im_bench::report::Report;
use im_bench_store::{DriveOptions, ServeOptions, drive, serve, summary};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

/// The service runs on the allocator `im` serves with (bin/im/src/main.rs).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// M5 on the message service alone: stored messages per second and commit latency.
#[derive(Debug, Parser)]
#[command(name = "im-bench-store")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Spawn the service (unless --target), offer the load, read everything back.
    Run(RunArgs),
    /// Serve the message service alone until standard input closes, then print the
    /// group commit's totals as one JSON line.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServiceArgs {
    /// The message database, e.g. mysql://root@127.0.0.1:3306/bench_store (created and
    /// migrated if missing; drop it afterwards).
    #[arg(long)]
    database_url: String,
    /// Group commit: batches stored at once (default: the service's).
    #[arg(long)]
    writers: Option<usize>,
    /// Group commit: most drafts per batch (default: the service's).
    #[arg(long)]
    batch: Option<usize>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    service: ServiceArgs,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Database and group commit of the spawned service.
    #[command(flatten)]
    service: Option<ServiceArgs>,
    /// A service already running (`http://127.0.0.1:port`) instead of spawning one.
    #[arg(long, conflicts_with = "database_url")]
    target: Option<String>,
    /// The targeted service's pid, for its CPU and memory.
    #[arg(long, requires = "target")]
    server_pid: Vec<u32>,
    /// The database server's pid (e.g. `pidof mariadbd`), for its CPU.
    #[arg(long)]
    db_pid: Vec<u32>,
    #[arg(long, default_value_t = 1000)]
    conversations: usize,
    /// Sends offered per second.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    duration: Duration,
    /// Sends awaiting their answer at most (the service sheds calls past 1,024 at once).
    #[arg(long, default_value_t = 1000)]
    max_in_flight: usize,
    /// HTTP/2 connections to the service.
    #[arg(long, default_value_t = 4)]
    channels: usize,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    drain: Duration,
    /// Also write the report here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("im-bench-store: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Cmd::Run(args) => run(args).await,
            Cmd::Serve(args) => serve_until_stdin_closes(args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("im-bench-store: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_until_stdin_closes(args: ServeArgs) -> anyhow::Result<()> {
    let metrics = im_runtime::metrics::install();
    // Embedded adapters' files (none on MySQL; an SQLite URL names its own file).
    let data_dir = tempfile::tempdir().context("create a data directory")?;
    let served = serve(ServeOptions {
        database_url: args.service.database_url,
        data_dir: data_dir.path().to_owned(),
        listen: args.listen,
        writers: args.service.writers,
        batch: args.service.batch,
    })
    .await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", served.addr)?;
    stdout.flush()?;
    drop(stdout);
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    served.stop();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", summary::group_commit(&metrics.render()))?;
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut spawned = None;
    let (target, server_pids) = match (&args.target, &args.service) {
        (Some(target), _) => {
            im_bench::server::ensure_loopback(target)?;
            (target.clone(), args.server_pid.clone())
        }
        (None, Some(service)) => {
            let (child, target) = spawn(service).await?;
            let pid = child.child.id().context("the spawned service has no pid")?;
            spawned = Some(child);
            (target, vec![pid])
        }
        (None, None) => anyhow::bail!("give --database-url (to spawn) or --target"),
    };
    let options = DriveOptions {
        target: target.clone(),
        conversations: args.conversations,
        rate: args.rate,
        duration: args.duration,
        max_in_flight: args.max_in_flight,
        channels: args.channels,
        drain: args.drain,
        server_pids,
        db_pids: args.db_pid.clone(),
    };
    let driven = drive(&options).await;
    let group_commit = match spawned {
        Some(child) => Some(stop(child).await?),
        None => None,
    };
    let (step, findings) = driven?;

    let mut summary_fields = BTreeMap::new();
    summary_fields.insert("stored_rows".to_owned(), findings.stored.into());
    summary_fields.insert(
        "conversations_not_gapless".to_owned(),
        findings.gapped_conversations.into(),
    );
    if let Some(group_commit) = group_commit {
        summary_fields.insert("group_commit".to_owned(), group_commit);
    }
    let report = Report {
        scenario: "m5-store".to_owned(),
        protocol: "grpc".to_owned(),
        title: "stored messages per second, message service alone".to_owned(),
        target,
        spawned: args.target.is_none(),
        params: serde_json::json!({
            "conversations": args.conversations,
            "rate": args.rate,
            "duration_s": args.duration.as_secs_f64(),
            "max_in_flight": args.max_in_flight,
            "channels": args.channels,
            "writers": args.service.as_ref().and_then(|s| s.writers),
            "batch": args.service.as_ref().and_then(|s| s.batch),
        }),
        steps: vec![step],
        summary: summary_fields,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report.table().as_bytes())?;
    stdout.flush()?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// The spawned service and its standard output, past the address line.
struct Spawned {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// Starts `im-bench-store serve` and waits for its address.
async fn spawn(service: &ServiceArgs) -> anyhow::Result<(Spawned, String)> {
    let exe = std::env::current_exe().context("find this executable")?;
    let mut command = Command::new(exe);
    command
        .args(["serve", "--database-url", &service.database_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(writers) = service.writers {
        command.args(["--writers", &writers.to_string()]);
    }
    if let Some(batch) = service.batch {
        command.args(["--batch", &batch.to_string()]);
    }
    let mut child = command.spawn().context("start the service")?;
    let stdout = child.stdout.take().context("no stdout of the service")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("the service did not come up in time")??
        .context("the service exited before it came up")?;
    let target = line
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line of the service: {line}"))?
        .to_owned();
    Ok((Spawned { child, lines }, target))
}

/// Closes the service's stdin, which stops it, and reads its summary line.
async fn stop(spawned: Spawned) -> anyhow::Result<serde_json::Value> {
    let Spawned {
        mut child,
        mut lines,
    } = spawned;
    drop(child.stdin.take());
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the service did not stop in time")??
        .context("the service exited without its summary")?;
    let status = child.wait().await?;
    anyhow::ensure!(status.success(), "the service exited with {status}");
    serde_json::from_str(&line).with_context(|| format!("the service's summary: {line}"))
}
