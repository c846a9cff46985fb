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
    extract::{ConnectInfo, Request},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::error::HttpError;

/// Clients remembered before idle ones are forgotten.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The request timeout and rate limit of one server.
#[derive(Clone, Default)]
pub struct RequestLimits {
    /// Longest a request may take; `None` for no limit.
    pub request_timeout: Option<Duration>,
    /// Requests per second per client IP, with a burst; `None` for no limit.
    pub rate_limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl std::fmt::Debug for RequestLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLimits")
            .field("request_timeout", &self.request_timeout)
            .field("rate_limited", &self.rate_limiter.is_some())
            .finish()
    }
}

impl RequestLimits {
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

/// Applies the rate limit, then the timeout, around the rest of the app.
pub async fn enforce(limits: RequestLimits, request: Request, next: Next) -> Response {
    let exempt = matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics");
    if !exempt
        && let Some(limiter) = &limits.rate_limiter
        && let Err(refusal) = admit(limiter, &request)
    {
        return refusal.into_response();
    }
    let Some(limit) = limits.request_timeout else {
        return next.run(request).await;
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request timed out");
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "REQUEST_TIMEOUT",
                format!(
                    "the request took longer than {} s and was stopped; \
                     backups and restores keep running",
                    limit.as_secs()
                ),
            )
            .into_response()
        }
    }
}

/// Counts one request of `client` against its rate; the seconds to wait when
/// it is over.
fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, client: IpAddr) -> Result<(), u64> {
    if limiter.len() > MAX_TRACKED_CLIENTS {
        limiter.retain_recent();
    }
    limiter.check_key(&client).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        wait.as_secs_f64().ceil().max(1.0) as u64
    })
}

impl RequestLimits {
    /// Counts one operation of `client` (sent over a WebSocket) against its
    /// rate; the seconds to wait when it is over.
    pub fn check_client(&self, client: IpAddr) -> Result<(), u64> {
        match &self.rate_limiter {
            Some(limiter) => check(limiter, client),
            None => Ok(()),
        }
    }
}

/// Counts the request against its client's rate, or refuses it with 429 and
/// the seconds to wait.
fn admit(limiter: &DefaultKeyedRateLimiter<IpAddr>, request: &Request) -> Result<(), HttpError> {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    check(limiter, client).map_err(|seconds| {
        HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("too many requests from this client; retry in {seconds} s"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
    })
}
