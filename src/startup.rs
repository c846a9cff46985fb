//! The server's start-up and shutdown: [`Application::build`] connects,
//! migrates, builds the state and binds; [`Application::run_until_stopped`]
//! serves until the shutdown signal, then drains.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::Notify};

use crate::{
    auth::AccessPolicy,
    config::ServeArgs,
    db::{self, PoolSettings},
    generator::{self, GeneratorSettings},
    graphql::query_limits::QueryLimits,
    http::{
        abuse_limits::RequestLimits,
        app,
        caching::ResponseCache,
        live_limits::{LiveConnections, LiveLimits},
        persisted::PersistedQueries,
    },
    rules::Table,
    service::{
        background::Background,
        backup::Backups,
        changes::ChangeFeed,
        compactor,
        import::{self, ImportProgress},
        operations,
    },
    state::AppState,
};

/// Hires in the demo dataset.
const DEMO_HIRES: u64 = 3_000;

/// A server that is connected, migrated and bound, ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    shutdown_grace: Duration,
    compactor: Background,
    sweeper: Background,
}

impl Application {
    /// Connects to the database (and the replica), migrates it, loads the demo
    /// data when asked, and binds the listening socket.
    pub async fn build(
        database_url: &str,
        args: ServeArgs,
        policy: AccessPolicy,
        backups: Backups,
    ) -> anyhow::Result<Self> {
        let db = connect_primary(database_url, args.database_pool_size).await?;
        if args.demo {
            load_demo_data(&db).await?;
        }
        let state = app_state(db, database_url, &args, policy, backups).await?;
        let compactor = compactor::start(
            state.db.clone(),
            Duration::from_millis(args.rollup_compact_interval_ms),
        );
        let sweeper = operations::start_sweeper(state.db.clone());
        let listener = TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let address = listener.local_addr().context("reading the bound address")?;
        tracing::info!(
            database = %db::redact_url(database_url),
            "listening on http://{address} (GraphQL and playground at http://{address}/graphql)"
        );
        Ok(Self {
            listener,
            address,
            state,
            shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
            compactor,
            sweeper,
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then gives in-flight requests the
    /// grace period to finish, and closes the database pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (db, read_db) = (self.state.db.clone(), self.state.read_db.clone());
        // Responses go out as soon as they are written, not after a delayed ACK.
        let listener = self.listener.tap_io(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY");
            }
        });
        let stopping = Arc::new(Notify::new());
        let notify = Arc::clone(&stopping);
        let live = Arc::clone(&self.state.live);
        let changes = self.state.changes.clone();
        let server = axum::serve(
            listener,
            app(self.state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            // Subscriptions never finish by themselves: close them, so clients reconnect elsewhere.
            live.close_all();
            notify.notify_one();
        });
        let grace = self.shutdown_grace;
        tokio::select! {
            result = server => result.context("the HTTP server failed")?,
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(seconds = grace.as_secs(), "grace period over; exiting with requests still in flight");
            }
        }
        // Operations get the grace period too; those still running are then cancelled
        // (rolled back, partial sets deleted), since they could not record their end
        // once the pools close.
        operations::finish_or_cancel(&db, grace).await;
        self.compactor.stop().await;
        self.sweeper.stop().await;
        changes.stop().await;
        read_db.close().await.context("closing the read pool")?;
        db.close().await.context("closing the database pool")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The primary pool, migrated to the latest schema.
async fn connect_primary(
    database_url: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let settings = PoolSettings {
        max_connections,
        ..PoolSettings::default()
    };
    let db = db::connect(database_url, settings).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// The state every request shares, from the settings, with its own pool for
/// reads: on the replica when one is set, otherwise on the primary.
async fn app_state(
    db: DatabaseConnection,
    database_url: &str,
    args: &ServeArgs,
    policy: AccessPolicy,
    backups: Backups,
) -> anyhow::Result<AppState> {
    let mut state = AppState::new(db, policy);
    state.request_limits = RequestLimits::new(
        args.request_timeout_seconds,
        args.rate_limit_per_second,
        args.rate_limit_burst,
    );
    let read_settings = PoolSettings {
        max_connections: args.database_read_pool_size,
        ..PoolSettings::default()
    };
    if let Some(read_url) = &args.database_read_url {
        state.read_db = db::connect(read_url.expose_secret(), read_settings).await?;
        tracing::info!(
            replica = db::redact_url(read_url.expose_secret()),
            "reports and lists read from the replica"
        );
    } else if !db::is_in_memory(database_url) {
        // Reads get connections of their own, so that they never queue behind writes.
        state.read_db = db::connect(database_url, read_settings).await?;
    }
    state.query_limits = QueryLimits {
        max_depth: args.max_query_depth,
        max_complexity: args.max_query_complexity,
    };
    state.body_limit = args.body_limit;
    state.upload_limit = args.upload_limit;
    state.playground_cdn = args.graphiql_cdn;
    state.cors_origins = args.cors_origins.clone();
    state.cache_max_age = args.cache_max_age;
    state.response_cache = Arc::new(ResponseCache::new(args.response_cache_bytes));
    state.persisted = Arc::new(persisted_queries(args)?);
    state.backups = Arc::new(backups);
    let interval = Duration::from_millis(args.change_event_interval_ms);
    state.changes = match &args.database_read_url {
        Some(_) => ChangeFeed::with_replica(state.db.clone(), state.read_db.clone(), interval),
        None => ChangeFeed::new(state.db.clone(), interval),
    };
    state.live = Arc::new(LiveConnections::new(LiveLimits {
        max_subscriptions_per_connection: args.ws_max_subscriptions_per_connection as usize,
        max_connections_per_client: args.ws_max_connections_per_client,
        idle_timeout: Duration::from_secs(args.ws_idle_timeout_seconds),
    }));
    Ok(state)
}

/// The persisted queries the settings ask for, with the registered documents loaded.
fn persisted_queries(args: &ServeArgs) -> anyhow::Result<PersistedQueries> {
    let dir = args.persisted_queries_dir.as_deref();
    let loaded = PersistedQueries::load(args.persisted_queries, dir).with_context(|| {
        format!(
            "cannot read the persisted documents in {}",
            dir.map(|d| d.display().to_string()).unwrap_or_default()
        )
    })?;
    if dir.is_some() {
        tracing::info!(
            documents = loaded.registered(),
            "persisted documents registered"
        );
    }
    Ok(loaded)
}

/// On an empty database, generates and imports a small dataset so the playground shows data.
async fn load_demo_data(db: &DatabaseConnection) -> anyhow::Result<()> {
    if entity::hired_employee::Entity::find().count(db).await? > 0 {
        tracing::info!("--demo: the database already holds hires; nothing loaded");
        return Ok(());
    }
    let dir = tempfile::tempdir().context("creating a temporary folder for demo data")?;
    let settings = GeneratorSettings {
        hires: DEMO_HIRES,
        seed: 2021,
        bad_fraction: 0.02,
        from_year: 2019,
        to_year: 2023,
    };
    generator::generate(dir.path(), &settings)?;
    for table in Table::ALL {
        let path = dir.path().join(table.file_name());
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let summary = import::import_csv(
            db,
            table,
            &format!("demo:{}", table.file_name()),
            Box::new(file),
            Arc::new(ImportProgress::default()),
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
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
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
