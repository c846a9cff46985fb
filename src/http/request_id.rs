//! Request ids: every request gets one (the client's `x-request-id`, when it
//! sent a usable one), which its tracing span carries and its response returns.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The request id header, read from clients and returned on every response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a client's request id when it is short and printable; otherwise makes a UUID.
#[derive(Clone, Copy)]
pub struct RequestIds;

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Drops a client's request id that is too long or not printable, so a fresh one is made.
pub async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request.headers().get(REQUEST_ID).is_none_or(|value| {
        (1..=128).contains(&value.len()) && value.as_bytes().iter().all(u8::is_ascii_graphic)
    });
    if !usable {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}
