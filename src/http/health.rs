//! Probes and scrapes: `/healthz`, `/readyz`, `/metrics`, and the answer to
//! any other path.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::error::HttpError;
use crate::{error::AppError, state::AppState};

/// GET /healthz: the process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// GET /readyz: the database (and the read replica, when one is set) answers within two seconds.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (primary, replica) = (&state.db, &state.read_db);
    let both = async {
        primary.ping().await?;
        replica.ping().await
    };
    match tokio::time::timeout(Duration::from_secs(2), both).await {
        Ok(Ok(())) => Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(err)) => {
            AppError::from(err).log();
            unavailable()
        }
        Err(_) => {
            tracing::error!("database ping timed out");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": "the database does not answer" })),
    )
        .into_response()
}

/// GET /metrics: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Any other path: a GraphQL-shaped 404 that says where GraphQL is.
pub async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint; GraphQL is at /graphql",
    )
}
