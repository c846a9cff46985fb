//! Abuse limits on HTTP requests: a per-request timeout and an optional
//! per-client rate limit (keyed by the peer's IP address).
//!
//! Health checks and metrics are exempt from the rate limit, so probes and
//! scrapers keep working while a client is throttled.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use axum::{
    Json,
    extract::{ConnectInfo, Request},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use serde_json::json;

/// Clients remembered before idle ones are forgotten.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The limits of one server.
#[derive(Clone, Default)]
pub struct Limits {
    /// Longest a request may take; `None` for no limit.
    pub request_timeout: Option<Duration>,
    /// Requests per second per client IP, with a burst; `None` for no limit.
    pub rate_limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("request_timeout", &self.request_timeout)
            .field("rate_limited", &self.rate_limiter.is_some())
            .finish()
    }
}

impl Limits {
    /// Limits from the settings: seconds (0 = none), and requests per second and burst.
    pub fn new(timeout_seconds: u64, per_second: Option<u32>, burst: Option<u32>) -> Self {
        let rate_limiter = per_second.and_then(NonZeroU32::new).map(|rate| {
            let burst = burst.and_then(NonZeroU32::new).unwrap_or(rate);
            Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        Self {
            request_timeout: (timeout_seconds > 0).then(|| Duration::from_secs(timeout_seconds)),
            rate_limiter,
        }
    }
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, Json(body)).into_response()
}

/// Applies the rate limit, then the timeout, around the rest of the app.
pub async fn enforce(limits: Limits, request: Request, next: Next) -> Response {
    let exempt = matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics");
    if let (Some(limiter), false) = (&limits.rate_limiter, exempt) {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if limiter.len() > MAX_TRACKED_CLIENTS {
            limiter.retain_recent();
        }
        if let Err(not_until) = limiter.check_key(&client) {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("too many requests from this client; retry in {seconds} s"),
            );
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    match limits.request_timeout {
        None => next.run(request).await,
        Some(limit) => match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(seconds = limit.as_secs(), "request timed out");
                refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "REQUEST_TIMEOUT",
                    format!(
                        "the request took longer than {} s and was stopped; \
                         backups and restores keep running",
                        limit.as_secs()
                    ),
                )
            }
        },
    }
}
