//! GET and POST `/graphql`: reading the request (JSON, multipart uploads, a
//! query string) within the limits, then executing it.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    ParseRequestError, futures_util::TryStreamExt, http::MultipartOptions,
    parser::types::OperationType,
};
use async_graphql_axum::GraphQLResponse;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use http_body_util::Limited;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::{caller::identify, error::HttpError, pages};
use crate::{auth::Caller, graphql::schema::AppSchema, state::AppState};

/// The longest query text accepted (variables are not counted): parsing is
/// linear but not cheap, and no real query comes near it; large inserts send
/// their rows as variables.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

async fn execute(schema: &AppSchema, caller: Caller, request: async_graphql::Request) -> Response {
    if request.query.len() > MAX_QUERY_BYTES {
        return HttpError::new(
            StatusCode::BAD_REQUEST,
            "QUERY_TOO_LARGE",
            format!(
                "the query text is {} bytes; at most {MAX_QUERY_BYTES} are accepted \
                 (send large inputs as variables)",
                request.query.len()
            ),
        )
        .into_response();
    }
    GraphQLResponse::from(schema.execute(request.data(caller)).await).into_response()
}

/// GET /graphql: a query in the URL is executed; otherwise the playground is served.
pub async fn graphql_get(
    State(state): State<AppState>,
    State(schema): State<AppSchema>,
    req: Request,
) -> Response {
    let Some(query_string) = req.uri().query().filter(|q| !q.is_empty()) else {
        return pages::playground(state.playground_cdn).into_response();
    };
    let caller = match identify(&state.policy, req.headers()) {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let request = match async_graphql::http::parse_query_string(query_string) {
        Ok(request) => request,
        Err(err) => {
            return HttpError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("cannot read the GraphQL request from the URL: {err}"),
            )
            .into_response();
        }
    };
    if is_mutation(&request) {
        return HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        )
        .with_header(header::ALLOW, HeaderValue::from_static("POST"))
        .into_response();
    }
    execute(&schema, caller, request).await
}

/// Whether the operation a request would run is a mutation.
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted == name.as_str(),
            _ => true,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}

/// POST /graphql: JSON or multipart GraphQL requests.
pub async fn graphql_post(
    State(state): State<AppState>,
    State(schema): State<AppSchema>,
    req: Request,
) -> Response {
    let caller = match identify(&state.policy, req.headers()) {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    match read_request(req, caller, &state).await {
        Ok(request) => execute(&schema, caller, request).await,
        Err(err) => err.into_response(),
    }
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
fn body_kind(headers: &HeaderMap, caller: Caller) -> Result<BodyKind, HttpError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match essence {
        "application/json" | "application/graphql-response+json" => Ok(BodyKind::Json),
        "multipart/form-data" if caller == Caller::Admin => Ok(BodyKind::Multipart),
        "multipart/form-data" => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "multipart requests carry file uploads (importCsv), which need the admin token",
        )),
        _ => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send GraphQL requests as application/json (or multipart/form-data for admin uploads)",
        )),
    }
}

/// Reads a POST body into a GraphQL request, streaming it within the limits.
///
/// JSON requests get `body_limit`; multipart uploads (admin CSV imports) get
/// `upload_limit`, and their files are spooled to temporary files, not memory.
async fn read_request(
    req: Request,
    caller: Caller,
    state: &AppState,
) -> Result<async_graphql::Request, HttpError> {
    let kind = body_kind(req.headers(), caller)?;
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
            return Err(HttpError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the request body could not be read",
            ));
        }
    };
    serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|err| {
        let message = if bytes.first() == Some(&b'[') {
            "batched requests are not supported".to_owned()
        } else {
            format!("the body is not a valid GraphQL request: {err}")
        };
        HttpError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    })
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
        HttpError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            multipart_problem(err),
        )
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
