//! The subcommands, one file each.

mod access;
mod backup;
mod failure;
mod generate;
mod healthcheck;
mod import;
mod migrate;
mod progress;
mod recorded;
mod schema;
mod serve;

use std::process::ExitCode;

use secrecy::ExposeSecret;

use crate::config::{Cli, Command};

pub use failure::Failure;

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> ExitCode {
    let database_url = cli.global.database_url.expose_secret();
    let result = match cli.command {
        Command::Serve(args) => Box::pin(serve::run(database_url, *args)).await,
        Command::Migrate => migrate::run(database_url).await,
        Command::Schema => schema::run(),
        Command::Import(args) => import::run(database_url, args).await,
        Command::Generate(args) => generate::run(args),
        Command::Healthcheck(args) => healthcheck::run(args),
        // Boxed: their futures are deep (S3 client, Avro), and would be inlined into main's.
        Command::Backup(args) => Box::pin(backup::backup(database_url, args)).await,
        Command::Backups(args) => Box::pin(backup::list(args)).await,
        Command::Verify(args) => Box::pin(backup::verify(database_url, args)).await,
        Command::Restore(args) => Box::pin(backup::restore(database_url, args)).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            tracing::error!(error = format!("{:#}", failure.error), "command failed");
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.exit_code)
        }
    }
}
