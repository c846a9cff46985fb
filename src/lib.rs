//! hiring-analytics: a GraphQL analytics server for hiring data.
//!
//! The binary is a thin CLI over this library, so tests drive the real thing:
//! [`build_schema`] for GraphQL and [`app`] for HTTP.

pub mod auth;
pub mod cli;
pub mod config;
pub mod csv;
pub mod db;
pub mod error;
pub mod generator;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod rules;
pub mod service;
pub mod telemetry;
pub mod web;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use graphql::{AppSchema, QueryLimits, build_schema};
pub use http::app;

/// The default largest request body: 8 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

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
    pub policy: Arc<auth::AccessPolicy>,
    /// Depth and complexity limits of GraphQL queries.
    pub limits: QueryLimits,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest accepted multipart upload (`importCsv`), in bytes.
    pub upload_limit: usize,
    /// Serve the playground from a CDN instead of the embedded assets.
    pub playground_cdn: bool,
    /// Where backups go, and how many are kept.
    pub backups: Arc<service::backup::Backups>,
    /// The Prometheus metrics served at `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// The request timeout and the per-client rate limit.
    pub limits_http: limits::Limits,
}

impl AppState {
    /// State with default limits.
    pub fn new(db: DatabaseConnection, policy: auth::AccessPolicy) -> Self {
        Self {
            read_db: db.clone(),
            db,
            policy: Arc::new(policy),
            limits: QueryLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            playground_cdn: false,
            metrics: Arc::new(metrics::Metrics::new()),
            limits_http: limits::Limits::new(DEFAULT_REQUEST_TIMEOUT_SECONDS, None, None),
            backups: Arc::new(service::backup::Backups::new(
                service::backup::Storage::local("backups"),
            )),
        }
    }
}
