//! `hiring-analytics serve`: run the HTTP server.

use super::Failure;
use crate::{
    auth::AccessPolicy,
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

/// Who may do what, from the tokens and the address; refuses settings that
/// would expose writes (an empty token, a public address with no token).
fn access_policy(args: &ServeArgs) -> Result<AccessPolicy, Failure> {
    for (name, token) in [
        ("ADMIN_TOKEN", &args.admin_token),
        ("API_TOKEN", &args.api_token),
    ] {
        if token.as_ref().is_some_and(|t| t.is_empty()) {
            return Err(Failure::usage(format!(
                "{name} is set but empty; give it a value or unset it"
            )));
        }
    }
    let loopback = args.bind.ip().is_loopback();
    let policy = AccessPolicy::new(
        args.admin_token.as_ref().map(|t| &t.0),
        args.api_token.as_ref().map(|t| &t.0),
        loopback,
    );
    if !loopback && policy.has_no_tokens() && !args.insecure {
        return Err(Failure::usage(format!(
            "refusing to listen on non-loopback address {} with neither ADMIN_TOKEN nor API_TOKEN \
             set; set a token, or pass --insecure to serve reads only",
            args.bind
        )));
    }
    if policy.has_no_tokens() {
        if loopback {
            tracing::warn!(
                "no ADMIN_TOKEN or API_TOKEN set: writes are open to local clients and admin operations are off"
            );
        } else {
            tracing::warn!(
                "--insecure: serving reads only; writes and admin operations are refused"
            );
        }
    }
    Ok(policy)
}
