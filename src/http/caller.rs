//! Who sent a request, from its `Authorization` header.

use axum::http::{HeaderMap, HeaderValue, header};

use super::error::HttpError;
use crate::{
    auth::{Caller, Role, require},
    error::AppError,
    state::AppState,
};

/// The caller, or a 401 that asks for a bearer token: for a token that is
/// refused, and for an anonymous request where anonymous callers may do
/// nothing. Refusals are counted by reason and logged without the token.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let caller = match state.policy.identify(authorization).await {
        Ok(caller) if caller.role.is_some() || !caller.is_anonymous() => return Ok(caller),
        Ok(_) => {
            state.metrics.auth_failure("missing_token");
            return Err(unauthenticated(
                "this server needs a bearer token: send `Authorization: Bearer <token>`".into(),
            ));
        }
        Err(refusal) => refusal,
    };
    state.metrics.auth_failure(caller.reason);
    tracing::warn!(
        reason = caller.reason,
        "refused a bearer token: {}",
        caller.message
    );
    Err(unauthenticated(caller.message))
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
