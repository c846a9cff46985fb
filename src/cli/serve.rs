//! `hiring-analytics serve`: run the HTTP server.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, sync::Notify};

use super::Failure;
use crate::{
    AppState, QueryLimits,
    auth::AccessPolicy,
    config::ServeArgs,
    db::{self, PoolSettings},
};

/// Migrates the database, then serves until SIGTERM or Ctrl-C.
pub async fn run(database_url: &str, args: ServeArgs) -> Result<(), Failure> {
    let loopback = args.bind.ip().is_loopback();
    let policy = AccessPolicy::new(args.admin_token.as_ref(), args.api_token.as_ref(), loopback);
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

    let settings = PoolSettings {
        max_connections: args.database_pool_size,
        ..PoolSettings::default()
    };
    let db = db::connect(database_url, settings).await?;
    db::migrate(&db).await?;

    let mut state = AppState::new(db.clone(), policy);
    state.limits = QueryLimits {
        max_depth: args.max_query_depth,
        max_complexity: args.max_query_complexity,
    };
    state.body_limit = args.body_limit;

    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        database = %db::redact_url(database_url),
        "listening on http://{address} (GraphQL and playground at http://{address}/graphql)"
    );

    let stopping = Arc::new(Notify::new());
    let notify = Arc::clone(&stopping);
    let server = axum::serve(listener, crate::app(state)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        notify.notify_one();
    });
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    tokio::select! {
        result = server => result.context("the HTTP server failed")?,
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(seconds = args.shutdown_grace_seconds, "grace period over; exiting with requests still in flight");
        }
    }
    db.close().await.context("closing the database pool")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
