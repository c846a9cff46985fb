//! `hiring-analytics serve`: run the HTTP server.

use super::{Failure, access::access_policy};
use crate::{
    config::ServeArgs,
    http::persisted::PersistedMode,
    startup::{Application, shutdown_signal},
};

/// Migrates the database, then serves until SIGTERM or Ctrl-C.
pub async fn run(database_url: &str, args: ServeArgs) -> Result<(), Failure> {
    // Installed first, so a signal during start-up (a long migration) is not lost.
    let shutdown = shutdown_signal()?;
    let policy = access_policy(&args)?;
    check_persisted_queries(&args)?;
    let backups = super::backup::backups_from(&args.storage).await?;
    let application = Application::build(database_url, args, policy, backups).await?;
    application.run_until_stopped(shutdown).await?;
    Ok(())
}

/// Refuses trusted-documents mode without the documents.
fn check_persisted_queries(args: &ServeArgs) -> Result<(), Failure> {
    if args.persisted_queries == PersistedMode::Only && args.persisted_queries_dir.is_none() {
        return Err(Failure::usage(
            "PERSISTED_QUERIES=only needs PERSISTED_QUERIES_DIR, the folder of the documents that may run",
        ));
    }
    Ok(())
}
