//! Errors outside GraphQL execution, sent with the same JSON shape as a
//! GraphQL error (`{"errors": [{"message", "extensions": {"code"}}]}`), so
//! clients read every error one way.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::HeaderName},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::error::AppError;

/// A refusal before or around GraphQL execution (auth, transport, limits), or
/// a service error on a plain HTTP route.
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl HttpError {
    /// A refusal with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The refusal with one more response header (`Allow`, `Retry-After`, …).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Logs the internal cause and keeps only what is safe to show; the error's
/// class decides the status.
impl From<AppError> for HttpError {
    fn from(err: AppError) -> Self {
        err.log();
        HttpError::new(err.status(), err.code(), err.public_message())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body =
            json!({ "errors": [{ "message": self.message, "extensions": { "code": self.code } }] });
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}
