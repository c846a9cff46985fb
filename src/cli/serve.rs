//! `hiring-analytics serve`: run the HTTP server.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::Notify};

use super::Failure;
use crate::{
    auth::AccessPolicy,
    config::ServeArgs,
    db::{self, PoolSettings},
    graphql::query_limits::QueryLimits,
    state::AppState,
};

/// Migrates the database, then serves until SIGTERM or Ctrl-C.
pub async fn run(database_url: &str, args: ServeArgs) -> Result<(), Failure> {
    let shutdown = shutdown_signal()?;
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

    let backups = super::backup::backups_from(&args.storage).await?;
    let settings = PoolSettings {
        max_connections: args.database_pool_size,
        ..PoolSettings::default()
    };
    let db = db::connect(database_url, settings).await?;
    db::migrate(&db).await?;
    if args.demo {
        load_demo_data(&db).await?;
    }

    let mut state = AppState::new(db.clone(), policy);
    state.request_limits = crate::http::abuse_limits::RequestLimits::new(
        args.request_timeout_seconds,
        args.rate_limit_per_second,
        args.rate_limit_burst,
    );
    if let Some(read_url) = &args.database_read_url {
        let read_settings = PoolSettings {
            max_connections: args.database_read_pool_size,
            ..PoolSettings::default()
        };
        state.read_db = db::connect(read_url.expose_secret(), read_settings).await?;
        tracing::info!(
            replica = db::redact_url(read_url.expose_secret()),
            "reports and lists read from the replica"
        );
    }
    state.query_limits = QueryLimits {
        max_depth: args.max_query_depth,
        max_complexity: args.max_query_complexity,
    };
    state.body_limit = args.body_limit;
    state.upload_limit = args.upload_limit;
    state.playground_cdn = args.graphiql_cdn;
    state.backups = std::sync::Arc::new(backups);

    let listener = TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr().context("reading the bound address")?;
    // Responses go out as soon as they are written, not after a delayed ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
    });
    tracing::info!(
        database = %db::redact_url(database_url),
        "listening on http://{address} (GraphQL and playground at http://{address}/graphql)"
    );

    let stopping = Arc::new(Notify::new());
    let notify = Arc::clone(&stopping);
    let server = axum::serve(
        listener,
        crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
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

/// Hires in the demo dataset.
const DEMO_HIRES: u64 = 3_000;

/// On an empty database, generates and imports a small dataset so the playground shows data.
async fn load_demo_data(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{EntityTrait, PaginatorTrait};

    if entity::hired_employee::Entity::find().count(db).await? > 0 {
        tracing::info!("--demo: the database already holds hires; nothing loaded");
        return Ok(());
    }
    let dir = tempfile::tempdir().context("creating a temporary folder for demo data")?;
    let settings = crate::generator::GeneratorSettings {
        hires: DEMO_HIRES,
        seed: 2021,
        bad_fraction: 0.02,
        from_year: 2019,
        to_year: 2023,
    };
    crate::generator::generate(dir.path(), &settings)?;
    for table in crate::service::import::Table::ALL {
        let path = dir.path().join(table.file_name());
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let summary = crate::service::import::import_csv(
            db,
            table,
            &format!("demo:{}", table.file_name()),
            Box::new(file),
            Arc::new(crate::service::import::ImportProgress::default()),
        )
        .await
        .map_err(|err| {
            err.log();
            anyhow::anyhow!("loading demo data failed: {}", err.detail())
        })?;
        tracing::info!(
            table = %table,
            inserted = summary.inserted,
            rejected = summary.rejected,
            "--demo: loaded demo data"
        );
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
///
/// The handlers are installed when this is called, not when the future is
/// first polled, so a signal that arrives right after start-up is not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
