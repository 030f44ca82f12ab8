//! `im-bench`: run one benchmark scenario, print its table, write its JSON.

use anyhow::Context as _;
use clap::Parser as _;
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = im_bench::Cli::parse();
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
