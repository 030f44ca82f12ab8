//! `im-bench`: run one benchmark scenario, print its table, write its JSON.

use anyhow::Context as _;
use clap::Parser as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = im_bench::Cli::parse();
    // First: a spawned `im serve` inherits it.
    if let Err(error) = im_bench::limits::raise_open_files() {
        eprintln!("im-bench: cannot raise the open-files limit: {error}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("im-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("im-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: im_bench::Cli) -> anyhow::Result<()> {
    if let im_bench::cli::Scenario::Relay(args) = &cli.scenario {
        return relay(args.listen).await;
    }
    let json_path = cli.json.clone();
    let report = im_bench::run(cli).await?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(report.table().as_bytes())
        .context("write the table")?;
    stdout.flush().context("write the table")?;
    if let Some(path) = json_path {
        let json = serde_json::to_vec_pretty(&report).context("encode the report")?;
        std::fs::write(&path, json).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Serves the raw relay until SIGTERM or Ctrl-C; prints its address first.
async fn relay(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "the relay listens on loopback only, not {listen}"
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let addr = listener.local_addr().context("the relay's address")?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("watch for SIGTERM")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "relay listening on ws://{addr}").context("write the address")?;
    stdout.flush().context("write the address")?;
    drop(stdout);
    im_bench::relay::run(listener, async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
    .await;
    Ok(())
}
