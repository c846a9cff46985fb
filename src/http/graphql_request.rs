//! Reading a GraphQL request from HTTP: the parameters of a GET, or a POST
//! body (JSON, or a multipart upload from the admin), within the limits.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{ParseRequestError, futures_util::TryStreamExt, http::MultipartOptions};
use axum::{
    extract::Request,
    http::{HeaderMap, StatusCode, Uri, header},
};
use http_body_util::Limited;
use serde::Deserialize;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::error::HttpError;
use super::request_id::REQUEST_ID;
use crate::{
    auth::{Caller, Role},
    service::audit,
    state::AppState,
};

/// The parameters of a GET request, as the GraphQL-over-HTTP spec names them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    /// The document.
    pub query: Option<String>,
    /// The operation to run, when the document has several.
    pub operation_name: Option<String>,
    /// A JSON object of variables.
    pub variables: Option<String>,
    /// A JSON object of extensions (such as a persisted query's hash).
    pub extensions: Option<String>,
}

impl GetParams {
    /// The parameters of `uri`'s query string.
    pub fn read(uri: &Uri) -> Result<Self, HttpError> {
        axum::extract::Query::try_from_uri(uri)
            .map(|axum::extract::Query(params)| params)
            .map_err(|err| {
                bad_request(format!(
                    "cannot read the GraphQL request from the URL: {err}"
                ))
            })
    }

    /// The GraphQL request these parameters make, or why they make none.
    pub fn into_request(self) -> Result<async_graphql::Request, HttpError> {
        let mut request = async_graphql::Request::new(self.query.unwrap_or_default());
        request.operation_name = self.operation_name.filter(|name| !name.is_empty());
        if let Some(variables) = json_object("variables", self.variables)? {
            request.variables = async_graphql::Variables::from_json(variables);
        }
        if let Some(extensions) = json_object("extensions", self.extensions)? {
            request.extensions = serde_json::from_value(extensions)
                .map_err(|err| bad_request(format!("`extensions` cannot be read: {err}")))?;
        }
        with_document(request)
    }
}

/// The JSON object in parameter `name`, if given (`null` counts as absent).
fn json_object(name: &str, text: Option<String>) -> Result<Option<serde_json::Value>, HttpError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(value @ serde_json::Value::Object(_)) => Ok(Some(value)),
        _ => Err(bad_request(format!("`{name}` must be a JSON object"))),
    }
}

fn bad_request(message: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

/// How a POST body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Multipart,
}

/// Accepts JSON, and multipart uploads from the admin only.
///
/// Browsers send `text/plain`, form and multipart bodies cross-site without a
/// CORS preflight; refusing them (multipart unless it carries the admin
/// token, which a browser cannot add cross-site) keeps another web page from
/// writing through a user's local server.
fn body_kind(headers: &HeaderMap, caller: &Caller) -> Result<BodyKind, HttpError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match essence {
        "application/json" | "application/graphql-response+json" => Ok(BodyKind::Json),
        "multipart/form-data" if caller.has(Role::Admin) => Ok(BodyKind::Multipart),
        "multipart/form-data" => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "multipart requests carry file uploads (importCsv), which need the admin role",
        )),
        _ => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL requests as application/json (or multipart/form-data for admin uploads)",
        )),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

/// Records an upload refused for its caller's role in the audit log, as the
/// mutations it would have carried are recorded when refused.
async fn record_refused_upload(state: &AppState, caller: &Caller, headers: &HeaderMap) {
    let entry = audit::NewEntry {
        identity: caller.identity.clone(),
        display: caller.display.clone(),
        role: caller.role_name().to_owned(),
        operation: "upload".to_owned(),
        arguments: serde_json::json!({}),
        outcome: "FORBIDDEN".to_owned(),
        request_id: headers
            .get(REQUEST_ID)
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned),
        operation_id: None,
    };
    if let Err(err) = audit::record(&state.db, entry).await {
        err.log();
        tracing::error!("recording a refused upload in the audit log failed");
    }
}

/// Reads a POST body into a GraphQL request, streaming it within the limits.
///
/// JSON requests get `body_limit`; multipart uploads (admin CSV imports) get
/// `upload_limit`, and their files are spooled to temporary files, not memory.
pub async fn read_request(
    req: Request,
    caller: &Caller,
    state: &AppState,
) -> Result<async_graphql::Request, HttpError> {
    let kind = match body_kind(req.headers(), caller) {
        Ok(kind) => kind,
        Err(refused) => {
            if is_multipart(req.headers()) {
                record_refused_upload(state, caller, req.headers()).await;
            }
            return Err(refused);
        }
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(ToString::to_string);
    let limit = match kind {
        BodyKind::Json => state.body_limit,
        BodyKind::Multipart => state.upload_limit,
    };
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        return Err(payload_too_large());
    }
    // A body without a Content-Length is cut off once it passes the limit.
    let limited = Limited::new(req.into_body(), limit);
    match kind {
        BodyKind::Json => read_json(limited).await,
        BodyKind::Multipart => read_multipart(limited, content_type, state.upload_limit).await,
    }
}

/// Parses plain JSON straight into one request: async-graphql's batch parser
/// buffers the whole document twice to tell a batch from a single.
async fn read_json(body: Limited<axum::body::Body>) -> Result<async_graphql::Request, HttpError> {
    let bytes = match http_body_util::BodyExt::collect(body).await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(payload_too_large());
        }
        Err(_) => {
            return Err(bad_request("the request body could not be read"));
        }
    };
    let request = serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|err| {
        let message = if bytes.first() == Some(&b'[') {
            "batched requests are not supported".to_owned()
        } else {
            format!("the body is not a valid GraphQL request: {err}")
        };
        bad_request(message)
    })?;
    with_document(request)
}

/// `request`, unless it carries no document: no `query` text and no
/// persisted query's hash in its extensions.
fn with_document(request: async_graphql::Request) -> Result<async_graphql::Request, HttpError> {
    if request.query.trim().is_empty() && !request.extensions.contains_key("persistedQuery") {
        return Err(bad_request(
            "the request has no `query` (a GraphQL document as a string)",
        ));
    }
    Ok(request)
}

/// Parses a multipart upload, spooling its files to temporary files.
async fn read_multipart(
    body: Limited<axum::body::Body>,
    content_type: Option<String>,
    upload_limit: usize,
) -> Result<async_graphql::Request, HttpError> {
    let too_large = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&too_large);
    let body = axum::body::Body::new(body)
        .into_data_stream()
        .map_err(move |err| {
            if is_length_limit(&err) {
                flag.store(true, Ordering::Relaxed);
            }
            std::io::Error::other(err.to_string())
        });
    let reader = tokio_util::io::StreamReader::new(body).compat();
    let parsed = async_graphql::http::receive_batch_body(
        content_type,
        reader,
        MultipartOptions::default()
            .max_file_size(upload_limit)
            .max_num_files(8),
    )
    .await
    .and_then(|batch| batch.into_single());
    parsed.map_err(|err| {
        if too_large.load(Ordering::Relaxed) || matches!(err, ParseRequestError::PayloadTooLarge) {
            return payload_too_large();
        }
        bad_request(multipart_problem(err))
    })
}

/// What is wrong with a multipart request, in words a client can act on.
fn multipart_problem(err: ParseRequestError) -> String {
    match err {
        ParseRequestError::InvalidRequest(cause) => {
            format!("the body is not a valid GraphQL request: {cause}")
        }
        ParseRequestError::UnsupportedBatch => "batched requests are not supported".into(),
        ParseRequestError::InvalidFilesMap(cause) => {
            format!("invalid multipart files map: {cause}")
        }
        ParseRequestError::InvalidMultipart(cause) => {
            format!("invalid multipart request: {cause}")
        }
        ParseRequestError::MissingOperatorsPart => "multipart request lacks `operations`".into(),
        ParseRequestError::MissingMapPart => "multipart request lacks `map`".into(),
        ParseRequestError::NotUpload => "multipart part is not an upload".into(),
        ParseRequestError::MissingFiles => "multipart request lacks a mapped file".into(),
        _ => "the request body could not be read".into(),
    }
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

fn payload_too_large() -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "the request body is larger than the server's BODY_LIMIT",
    )
}
