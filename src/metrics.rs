//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! GraphQL requests are counted and timed per operation name and type; long
//! operations (imports, backups, verifications, restores) per kind and
//! outcome; refused rows per reason code. Operation names come from clients,
//! so only the first [`MAX_OPERATION_NAMES`] distinct well-formed names get a
//! label of their own, and the rest share `other`: a client cannot grow the
//! metrics without bound.

use std::{collections::HashSet, sync::Mutex, time::Duration};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder, process_collector::ProcessCollector,
};

/// Distinct operation names that get a label of their own.
pub const MAX_OPERATION_NAMES: usize = 200;

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    /// The process's own metrics (CPU, memory, open files), named as every
    /// Prometheus client names them: `process_…`, without our prefix.
    process: Registry,
    graphql_requests: IntCounterVec,
    graphql_seconds: HistogramVec,
    operations: IntCounterVec,
    operation_seconds: HistogramVec,
    rejected_rows: IntCounterVec,
    response_cache: IntCounterVec,
    response_cache_bytes: IntGauge,
    live: LiveMetrics,
    auth_failures: IntCounterVec,
    names: Mutex<HashSet<String>>,
}

/// WebSocket connections and subscriptions.
#[derive(Clone)]
struct LiveMetrics {
    connections: IntGauge,
    subscriptions: IntGauge,
    refused: IntCounterVec,
}

/// Why a WebSocket connection or subscription was refused or closed.
pub const LIVE_REFUSALS: [&str; 6] = [
    "foreign_origin",
    "token_expired",
    "too_many_connections",
    "too_many_subscriptions",
    "unauthenticated",
    "idle_timeout",
];

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// How a request or operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No error.
    Ok,
    /// At least one error.
    Error,
}

impl Outcome {
    /// `Ok` for `Ok(_)`, `Error` for `Err(_)`.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("hiring_analytics".into()), None).unwrap_or_default();
        let graphql_requests = IntCounterVec::new(
            Opts::new(
                "graphql_requests_total",
                "GraphQL requests by operation, type and outcome",
            ),
            &["operation", "type", "outcome"],
        )
        .expect("valid metric");
        let graphql_seconds = HistogramVec::new(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "GraphQL request latency by operation",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["operation", "type"],
        )
        .expect("valid metric");
        let operations = IntCounterVec::new(
            Opts::new(
                "operations_total",
                "Imports, backups, verifications and restores by outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        let operation_seconds = HistogramVec::new(
            HistogramOpts::new(
                "operation_duration_seconds",
                "Duration of imports, backups, verifications and restores",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        let rejected_rows = IntCounterVec::new(
            Opts::new("rejected_rows_total", "Input rows refused, by reason code"),
            &["reason"],
        )
        .expect("valid metric");
        let (response_cache, response_cache_bytes) = response_cache_metrics();
        let live = live_metrics();
        let auth_failures = auth_failures();
        let build_info = build_info();
        for metric in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(graphql_requests.clone()),
            Box::new(graphql_seconds.clone()),
            Box::new(operations.clone()),
            Box::new(operation_seconds.clone()),
            Box::new(rejected_rows.clone()),
            Box::new(response_cache.clone()),
            Box::new(response_cache_bytes.clone()),
            Box::new(live.connections.clone()),
            Box::new(live.subscriptions.clone()),
            Box::new(live.refused.clone()),
            Box::new(auth_failures.clone()),
        ] {
            registry.register(metric).expect("metric names are unique");
        }
        let process = Registry::new();
        process
            .register(Box::new(ProcessCollector::for_self()))
            .expect("one process collector");
        Self {
            registry,
            process,
            graphql_requests,
            graphql_seconds,
            operations,
            operation_seconds,
            rejected_rows,
            response_cache,
            response_cache_bytes,
            live,
            auth_failures,
            names: Mutex::default(),
        }
    }

    /// The label for a client-chosen operation name.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return "other".into();
        }
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.contains(name) || names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// Counts and times one GraphQL request.
    pub fn graphql_request(
        &self,
        name: Option<&str>,
        kind: &str,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        let label = self.operation_label(name);
        self.graphql_requests
            .with_label_values(&[label.as_str(), kind, outcome.label()])
            .inc();
        self.graphql_seconds
            .with_label_values(&[label.as_str(), kind])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts and times one import, backup, verification or restore.
    pub fn operation(&self, kind: &str, outcome: Outcome, elapsed: Duration) {
        self.operations
            .with_label_values(&[kind, outcome.label()])
            .inc();
        self.operation_seconds
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts refused rows of one reason.
    pub fn rejected(&self, reason: &str, rows: u64) {
        self.rejected_rows.with_label_values(&[reason]).inc_by(rows);
    }

    /// Counts one lookup in the response cache and notes its size.
    pub fn response_cache(&self, hit: bool, bytes: usize) {
        let result = if hit { "hit" } else { "miss" };
        self.response_cache.with_label_values(&[result]).inc();
        self.response_cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Notes a WebSocket connection opened (`+1`) or closed (`-1`).
    pub fn websocket_connections(&self, change: i64) {
        self.live.connections.add(change);
    }

    /// Notes a subscription started (`+1`) or ended (`-1`).
    pub fn subscriptions(&self, change: i64) {
        self.live.subscriptions.add(change);
    }

    /// Counts a refused or closed connection or subscription; `reason` is one of [`LIVE_REFUSALS`].
    pub fn live_refused(&self, reason: &str) {
        self.live.refused.with_label_values(&[reason]).inc();
    }

    /// Counts a refused bearer token (or a missing one where one is needed);
    /// `reason` is one of [`AUTH_FAILURES`].
    pub fn auth_failure(&self, reason: &str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        if let Err(err) = TextEncoder::new().encode(&families, &mut out) {
            tracing::error!(error = %err, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `build_info{version}`, set to 1 for the running build.
fn build_info() -> IntGaugeVec {
    let build_info = IntGaugeVec::new(
        Opts::new(
            "build_info",
            "The running build: always 1, labelled with its version",
        ),
        &["version"],
    )
    .expect("valid metric");
    build_info
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1);
    build_info
}

/// Why a request's credentials were refused.
pub const AUTH_FAILURES: [&str; 12] = [
    "missing_token",
    "malformed",
    "unknown_token",
    "algorithm",
    "unknown_key",
    "signature",
    "expired",
    "not_yet_valid",
    "issuer",
    "audience",
    "claims",
    "keys_unavailable",
];

/// `auth_failures_total{reason}`, every reason at 0 from the start.
fn auth_failures() -> IntCounterVec {
    let failures = IntCounterVec::new(
        Opts::new(
            "auth_failures_total",
            "Requests and WebSocket connections refused for their credentials, by reason",
        ),
        &["reason"],
    )
    .expect("valid metric");
    for reason in AUTH_FAILURES {
        failures.with_label_values(&[reason]);
    }
    failures
}

/// Open WebSocket connections, active subscriptions, and refusals by reason (all at 0 from the start).
fn live_metrics() -> LiveMetrics {
    let refused = IntCounterVec::new(
        Opts::new(
            "websocket_refusals_total",
            "WebSocket connections and subscriptions refused or closed by the server, by reason",
        ),
        &["reason"],
    )
    .expect("valid metric");
    for reason in LIVE_REFUSALS {
        refused.with_label_values(&[reason]);
    }
    LiveMetrics {
        connections: IntGauge::new("websocket_connections", "Open WebSocket connections")
            .expect("valid metric"),
        subscriptions: IntGauge::new("subscriptions_active", "Active GraphQL subscriptions")
            .expect("valid metric"),
        refused,
    }
}

/// The response cache's lookups by result (both at 0 from the start) and its size.
fn response_cache_metrics() -> (IntCounterVec, IntGauge) {
    let lookups = IntCounterVec::new(
        Opts::new(
            "response_cache_requests_total",
            "Report and chart requests answered from the response cache (hit) or computed (miss)",
        ),
        &["result"],
    )
    .expect("valid metric");
    for result in ["hit", "miss"] {
        lookups.with_label_values(&[result]);
    }
    let bytes = IntGauge::new(
        "response_cache_bytes",
        "Bytes of answers kept in the response cache",
    )
    .expect("valid metric");
    (lookups, bytes)
}
