//! Who sent a request, from its `Authorization` header.

use axum::http::{HeaderMap, HeaderValue, header};

use super::error::HttpError;
use crate::auth::{AccessPolicy, Caller};

/// The caller, or a 401 that asks for a bearer token.
pub fn identify(policy: &AccessPolicy, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    policy.identify(authorization).map_err(|err| {
        HttpError::from(err)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    })
}
