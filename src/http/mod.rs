//! The HTTP surface: the router and its layers. Each route's handler lives in
//! the file named for what it serves.

pub mod abuse_limits;
pub mod caching;
mod caller;
pub mod cors;
mod error;
mod graphql;
mod graphql_request;
mod health;
pub mod live;
pub mod live_limits;
mod negotiate;
mod pages;
pub mod persisted;
mod reports_csv;
mod request_id;
mod trends_csv;

use axum::{
    Router,
    extract::{FromRef, Request},
    routing::get,
};
use tower_http::{
    LatencyUnit,
    compression::{
        CompressionLayer, CompressionLevel, DefaultPredicate, Predicate,
        predicate::{NotForContentType, SizeAbove},
    },
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    graphql::schema::{AppSchema, build_schema},
    state::AppState,
};
use request_id::{REQUEST_ID, RequestIds};

pub use graphql::MAX_QUERY_BYTES;

/// What the handlers extract: the app's state, or the schema built from it.
#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
}

impl FromRef<HttpState> for AppState {
    fn from_ref(state: &HttpState) -> Self {
        state.app.clone()
    }
}

impl FromRef<HttpState> for AppSchema {
    fn from_ref(state: &HttpState) -> Self {
        state.schema.clone()
    }
}

/// Responses smaller than this are sent as they are: compressing them saves
/// less than it costs.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// gzip and brotli quality: brotli's default (11) takes tens of milliseconds
/// on a full-year report; 4 is fast and still shrinks JSON about tenfold.
const COMPRESSION_QUALITY: i32 = 4;

/// The whole HTTP application over `state`.
pub fn app(state: AppState) -> Router {
    let schema = build_schema(&state);
    let request_limits = state.request_limits.clone();
    let cors = state.cors_origins.layer();
    let routes = Router::new()
        .route(
            "/graphql",
            get(live::graphql_get_or_subscribe).post(graphql::graphql_post),
        )
        .route("/", get(pages::dashboard))
        .route("/admin", get(pages::admin_console))
        .route("/assets/admin/{file}", get(pages::admin_asset))
        .route("/assets/dashboard/{file}", get(pages::dashboard_asset))
        .route(
            "/assets/graphiql/{version}/{file}",
            get(pages::graphiql_asset),
        )
        .route(
            "/reports/hires-by-quarter.csv",
            get(reports_csv::hires_by_quarter_csv),
        )
        .route(
            "/reports/departments-above-mean.csv",
            get(reports_csv::departments_above_mean_csv),
        )
        .route(
            "/reports/hires-over-time.csv",
            get(trends_csv::hires_over_time_csv),
        )
        .route(
            "/reports/hires-comparison.csv",
            get(trends_csv::hires_comparison_csv),
        )
        .route(
            "/reports/top-departments.csv",
            get(trends_csv::top_departments_csv),
        )
        .route("/reports/top-jobs.csv", get(trends_csv::top_jobs_csv))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/readyz", get(health::readyz))
        .fallback(health::not_found)
        .layer(axum::middleware::from_fn(move |request, next| {
            abuse_limits::enforce(request_limits.clone(), request, next)
        }))
        .with_state(HttpState { app: state, schema });
    // CORS outside the limits, so that a refusal (429, 503) still reaches the page.
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes
        .layer(compression())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        // Outermost: every request gets an id, which the span carries and the response returns.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds))
        .layer(axum::middleware::map_request(
            request_id::drop_unusable_request_id,
        ))
}

/// gzip or brotli, as the client prefers, for responses above
/// [`COMPRESS_ABOVE_BYTES`] that are not already compressed: JSON, CSV, SVG
/// and pages, not raster images or fonts. Assets stored gzip-compressed keep
/// that form.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = DefaultPredicate::new()
        .and(SizeAbove::new(COMPRESS_ABOVE_BYTES))
        .and(NotForContentType::const_new("font/"));
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(COMPRESSION_QUALITY))
        .compress_when(predicate)
}

/// The span every request runs in; GraphQL fills in the operation.
fn request_span(req: &Request) -> tracing::Span {
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id,
        operation = tracing::field::Empty,
    )
}
