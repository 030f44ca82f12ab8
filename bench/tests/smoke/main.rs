//! Smoke runs of every scenario at tiny scale against a spawned `im serve`: not
//! benchmarks, but proof that the instrument measures what it claims (every message
//! accounted for once, latencies present, the server sampled).
//!
//! The `im` binary is taken from the same target directory (`target/<profile>/im`,
//! which `cargo nextest run --workspace` builds), or from `IM_BENCH_IM_BIN`. The raw
//! relay's run needs no `im` (the XMPP side needs ejabberd, so it has no smoke test
//! here: CI does not install it).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod scenarios;

use clap::Parser as _;
use im_bench::{Cli, Report};
use std::path::PathBuf;
use std::time::Duration;

/// Every smoke run, setup included, ends within this.
const LIMIT: Duration = Duration::from_secs(120);

fn im_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("IM_BENCH_IM_BIN") {
        return path.into();
    }
    im_bench::server::default_im_binary().unwrap_or_else(|| {
        panic!(
            "no `im` binary next to {:?}: build it first (cargo build -p im), \
             or set IM_BENCH_IM_BIN",
            std::env::current_exe().ok()
        )
    })
}

/// Runs `im-bench <args> --spawn` in-process and returns its report.
async fn bench(args: &[&str]) -> Report {
    let im = im_binary();
    let mut argv = vec!["im-bench"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&[
        "--spawn",
        "--im-bin",
        im.to_str().unwrap(),
        "--drain",
        "15s",
    ]);
    run(&argv).await
}

/// Runs `argv` in-process and returns its report.
async fn run(argv: &[&str]) -> Report {
    let cli = Cli::try_parse_from(argv).unwrap();
    let report = tokio::time::timeout(LIMIT, im_bench::run(cli))
        .await
        .expect("the smoke run ends in time")
        .unwrap();
    eprintln!("{}", report.table());
    report
}
