//! The subcommands, one file each.

mod backup;
mod generate;
mod healthcheck;
mod import;
mod migrate;
mod progress;
mod schema;
mod serve;

use std::process::ExitCode;

use secrecy::ExposeSecret;

use crate::config::{Cli, Command};

/// A failure that ends the process, with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// 2 for a usage or configuration problem, 1 for anything else.
    pub exit_code: u8,
    /// What went wrong, with its context.
    pub error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            exit_code: 1,
            error,
        }
    }
}

impl Failure {
    /// A configuration problem the operator must fix (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit_code: 2,
            error: anyhow::anyhow!(message.into()),
        }
    }
}

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> ExitCode {
    let database_url = cli.global.database_url.expose_secret();
    let result = match cli.command {
        Command::Serve(args) => Box::pin(serve::run(database_url, args)).await,
        Command::Migrate => migrate::run(database_url).await,
        Command::Schema => schema::run(),
        Command::Import(args) => import::run(database_url, args).await,
        Command::Generate(args) => generate::run(args),
        Command::Healthcheck(args) => healthcheck::run(args),
        // Boxed: their futures are deep (S3 client, Avro), and would be inlined into main's.
        Command::Backup(args) => Box::pin(backup::backup(database_url, args)).await,
        Command::Backups(args) => Box::pin(backup::list(args)).await,
        Command::Verify(args) => Box::pin(backup::verify(args)).await,
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
