//! Who sent a request, from its `Authorization` header.

use axum::http::{HeaderMap, HeaderValue, header};

use super::error::HttpError;
use crate::{
    auth::{AccessPolicy, Caller, Role, jwt::Refusal, require},
    error::AppError,
    metrics::Metrics,
    state::AppState,
};

/// The caller `authorization` (a header value, or a WebSocket's
/// `connection_init` entry) names, or why it is refused: a token the policy
/// refuses, or none where anonymous callers may do nothing. Every refusal is
/// counted by reason; a refused token is logged, never the token itself.
pub async fn authenticate(
    policy: &AccessPolicy,
    metrics: &Metrics,
    authorization: Option<&[u8]>,
) -> Result<Caller, Refusal> {
    let refusal = match policy.identify(authorization).await {
        Ok(caller) if caller.role.is_some() || !caller.is_anonymous() => return Ok(caller),
        Ok(_) => Refusal {
            reason: "missing_token",
            message: "this server needs a bearer token: send `Authorization: Bearer <token>`"
                .into(),
        },
        Err(refusal) => {
            tracing::warn!(
                reason = refusal.reason,
                "refused a bearer token: {}",
                refusal.message
            );
            refusal
        }
    };
    metrics.auth_failure(refusal.reason);
    Err(refusal)
}

/// The caller of an HTTP request, or a 401 that asks for a bearer token.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    authenticate(&state.policy, &state.metrics, authorization)
        .await
        .map_err(|refusal| unauthenticated(refusal.message))
}

/// The caller, who must hold `role` (the CSV exports need `viewer`).
pub async fn identify_with(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Caller, HttpError> {
    let caller = identify(state, headers).await?;
    require(&caller, role)?;
    Ok(caller)
}

fn unauthenticated(message: String) -> HttpError {
    HttpError::from(AppError::Unauthenticated(message))
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}
