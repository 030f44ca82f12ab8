//! `im`: one command for every way of running IM.

mod cli;
mod serve;
mod wiring;

use clap::Parser;
use std::process::ExitCode;

/// Every request allocates and frees many small buffers on several threads; with
/// mimalloc the server spent 12–28 % less CPU per stored message than with glibc's
/// malloc (docs/BENCHMARKS.md, fifth session).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("im: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("im: {error:#}");
            ExitCode::FAILURE
        }
    }
}
