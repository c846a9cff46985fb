//! What every request shares: the database pools, the access policy, the
//! limits, the backups and the metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    auth::AccessPolicy,
    graphql::query_limits::QueryLimits,
    http::{
        abuse_limits::RequestLimits,
        caching::ResponseCache,
        cors::CorsOrigins,
        live_limits::{LiveConnections, LiveLimits},
        persisted::PersistedQueries,
    },
    metrics::Metrics,
    service::{
        backup::{Backups, Storage},
        changes::{ChangeFeed, DEFAULT_INTERVAL_MS},
    },
};

/// The default largest request body: 8 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The default byte budget of the report response cache: 64 MiB.
pub const DEFAULT_RESPONSE_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The default request timeout, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 60;

/// The default largest multipart upload: 1 GiB.
pub const DEFAULT_UPLOAD_LIMIT: usize = 1024 * 1024 * 1024;

/// Everything a request needs: the database, the access policy and the limits.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database pool: writes, admin operations, and reads without a replica.
    pub db: DatabaseConnection,
    /// The pool for reports and lists: a read replica (`DATABASE_READ_URL`), or `db`.
    pub read_db: DatabaseConnection,
    /// Who may do what.
    pub policy: Arc<AccessPolicy>,
    /// Depth and complexity limits of GraphQL queries.
    pub query_limits: QueryLimits,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest accepted multipart upload (`importCsv`), in bytes.
    pub upload_limit: usize,
    /// Serve the playground from a CDN instead of the embedded assets.
    pub playground_cdn: bool,
    /// Where backups go, and how many are kept.
    pub backups: Arc<Backups>,
    /// The Prometheus metrics served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The request timeout and the per-client rate limit.
    pub request_limits: RequestLimits,
    /// The origins browser apps may call from (`CORS_ORIGINS`); none by default.
    pub cors_origins: CorsOrigins,
    /// Report and chart answers kept per ETag.
    pub response_cache: Arc<ResponseCache>,
    /// Seconds clients may reuse a cacheable answer without asking (`CACHE_MAX_AGE`).
    pub cache_max_age: u32,
    /// Persisted queries: the mode and the documents held.
    pub persisted: Arc<PersistedQueries>,
    /// Change events for `dataChanged`; writers announce their commits here.
    pub changes: ChangeFeed,
    /// WebSocket limits and the connections each client holds.
    pub live: Arc<LiveConnections>,
}

impl AppState {
    /// State with default limits.
    pub fn new(db: DatabaseConnection, policy: AccessPolicy) -> Self {
        Self {
            changes: ChangeFeed::new(
                db.clone(),
                std::time::Duration::from_millis(DEFAULT_INTERVAL_MS),
            ),
            live: Arc::new(LiveConnections::new(LiveLimits::default())),
            read_db: db.clone(),
            db,
            policy: Arc::new(policy),
            query_limits: QueryLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            playground_cdn: false,
            metrics: Arc::new(Metrics::new()),
            request_limits: RequestLimits::new(DEFAULT_REQUEST_TIMEOUT_SECONDS, None, None),
            backups: Arc::new(Backups::new(Storage::local("backups"))),
            cors_origins: CorsOrigins::default(),
            response_cache: Arc::new(ResponseCache::new(DEFAULT_RESPONSE_CACHE_BYTES)),
            cache_max_age: 0,
            persisted: Arc::new(PersistedQueries::default()),
        }
    }
}
