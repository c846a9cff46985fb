//! The `hiring-analytics` binary: parse the CLI, set up logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use hiring_analytics::{cli, config::Cli, telemetry};

/// mimalloc instead of glibc's allocator: a 1000-row insert batch allocates
/// many small values (JSON, GraphQL input, SQL parameters), and glibc's
/// malloc and free took about a quarter of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    if let Err(err) = telemetry::init(args.global.log_format, &args.global.log_filter) {
        eprintln!("error: {err:#}");
        return ExitCode::from(2);
    }
    cli::run(args).await
}
