//! The HTTP surface: GraphQL, the playground, and health checks.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    ParseRequestError, futures_util::TryStreamExt, http::MultipartOptions,
    parser::types::OperationType,
};
use async_graphql_axum::GraphQLResponse;
use axum::{
    Json, Router,
    extract::{Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use tokio_util::compat::TokioAsyncReadCompatExt;
use tower_http::{
    LatencyUnit,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use sea_orm::DatabaseConnection;

use crate::{
    AppState,
    auth::Caller,
    build_schema,
    error::AppError,
    graphql::schema::AppSchema,
    service::{csv_input::csv_field, reports},
};

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: AppSchema,
}

/// The whole HTTP application over `state`.
pub fn app(state: AppState) -> Router {
    let schema = build_schema(&state);
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/", get(crate::web::dashboard))
        .route("/assets/dashboard/{file}", get(crate::web::dashboard_asset))
        .route("/assets/graphiql/{version}/{file}", get(crate::web::asset))
        .route("/reports/hires-by-quarter.csv", get(hires_by_quarter_csv))
        .route(
            "/reports/departments-above-mean.csv",
            get(departments_above_mean_csv),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(axum::middleware::from_fn({
            let limits = state.limits_http.clone();
            move |request, next| crate::limits::enforce(limits.clone(), request, next)
        }))
        .with_state(HttpState { app: state, schema })
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|id| id.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id,
                        operation = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        // Outermost: every request gets an id (the client's `x-request-id`, when it
        // sent a usable one), which the span carries and the response returns.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
}

/// The request id header, read from clients and returned on every response.
const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// Keeps a client's request id when it is short and printable; otherwise makes a UUID.
#[derive(Clone, Copy)]
struct RequestIds;

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Drops a client's request id that is too long or not printable, so a fresh one is made.
async fn drop_unusable_request_id(mut request: Request) -> Request {
    let usable = request.headers().get(REQUEST_ID).is_none_or(|value| {
        (1..=128).contains(&value.len()) && value.as_bytes().iter().all(u8::is_ascii_graphic)
    });
    if !usable {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// GET /metrics: Prometheus text format.
async fn metrics(State(state): State<HttpState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.app.metrics.render(),
    )
        .into_response()
}

/// A failure before GraphQL execution (auth, transport), sent as a GraphQL-shaped error.
struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
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

fn identify(state: &HttpState, headers: &HeaderMap) -> Result<Caller, HttpError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    state.app.policy.identify(authorization).map_err(|err| {
        HttpError::new(StatusCode::UNAUTHORIZED, err.code(), err.public_message())
            .with_header(header::WWW_AUTHENTICATE, "Bearer")
    })
}

/// The longest query text accepted (variables are not counted): parsing is
/// linear but not cheap, and no real query comes near it; large inserts send
/// their rows as variables.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

async fn execute(state: &HttpState, caller: Caller, request: async_graphql::Request) -> Response {
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
    GraphQLResponse::from(state.schema.execute(request.data(caller)).await).into_response()
}

/// GET /graphql: a query in the URL is executed; otherwise the playground is served.
async fn graphql_get(State(state): State<HttpState>, req: Request) -> Response {
    let Some(query_string) = req.uri().query().filter(|q| !q.is_empty()) else {
        return crate::web::page(state.app.playground_cdn).into_response();
    };
    let caller = match identify(&state, req.headers()) {
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
        .with_header(header::ALLOW, "POST")
        .into_response();
    }
    execute(&state, caller, request).await
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
async fn graphql_post(State(state): State<HttpState>, req: Request) -> Response {
    let caller = match identify(&state, req.headers()) {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    match read_request(req, caller, &state.app).await {
        Ok(request) => execute(&state, caller, request).await,
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
    let is_upload = kind == BodyKind::Multipart;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(ToString::to_string);
    let upload_limit = state.upload_limit;
    let limit = if is_upload {
        upload_limit
    } else {
        state.body_limit
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
    let limited = http_body_util::Limited::new(req.into_body(), limit);
    if !is_upload {
        // Plain JSON is parsed straight into one request: async-graphql's batch
        // parser buffers the whole document twice to tell a batch from a single.
        let bytes = match http_body_util::BodyExt::collect(limited).await {
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
        return serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|err| {
            let message = if bytes.first() == Some(&b'[') {
                "batched requests are not supported".to_owned()
            } else {
                format!("the body is not a valid GraphQL request: {err}")
            };
            HttpError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
        });
    }
    let too_large = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&too_large);
    let body = axum::body::Body::new(limited)
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
        let message = match err {
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
            ParseRequestError::MissingOperatorsPart => {
                "multipart request lacks `operations`".into()
            }
            ParseRequestError::MissingMapPart => "multipart request lacks `map`".into(),
            ParseRequestError::NotUpload => "multipart part is not an upload".into(),
            ParseRequestError::MissingFiles => "multipart request lacks a mapped file".into(),
            _ => "the request body could not be read".into(),
        };
        HttpError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    })
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

/// Query parameters of the CSV reports.
#[derive(Debug, serde::Deserialize)]
struct ReportParams {
    year: Option<String>,
}

impl ReportParams {
    fn year(&self) -> Result<i32, HttpError> {
        match self.year.as_deref() {
            None => Ok(2021),
            Some(text) => text.trim().parse::<i32>().map_err(|_| {
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    format!("year must be a whole number, got {text:?}"),
                )
            }),
        }
    }
}

/// A report as a CSV download, stamped with the time hires last changed.
async fn csv_report(
    state: &HttpState,
    headers: &HeaderMap,
    name: &str,
    year: Result<i32, HttpError>,
    render: impl AsyncFnOnce(&DatabaseConnection, i32) -> Result<String, AppError>,
) -> Response {
    if let Err(err) = identify(state, headers) {
        return err.into_response();
    }
    let year = match year {
        Ok(year) => year,
        Err(err) => return err.into_response(),
    };
    let db = &state.app.read_db;
    // The stamp is read first: a write landing between can only make it too old, never too new.
    let (body, as_of) = match async {
        let as_of = reports::hires_changed_at(db).await?;
        Ok::<_, AppError>((render(db, year).await?, as_of))
    }
    .await
    {
        Ok(result) => result,
        Err(err) => {
            err.log();
            let status = match err {
                AppError::BadInput { .. } => StatusCode::BAD_REQUEST,
                AppError::DatabaseUnavailable(_) | AppError::DatabaseBusy(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return HttpError::new(status, err.code(), err.public_message()).into_response();
        }
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-{year}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        body,
    )
        .into_response();
    if let Some(value) = as_of
        .map(|at| at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .and_then(|text| HeaderValue::from_str(&text).ok())
    {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}

/// A name as a CSV field that a spreadsheet shows as text: one that starts like
/// a formula (`=`, `+`, `-`, `@`) gets a leading apostrophe.
fn spreadsheet_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{value}")).into_owned()
    } else {
        csv_field(value).into_owned()
    }
}

/// GET /reports/hires-by-quarter.csv?year=2021: the quarterly report with a header row.
async fn hires_by_quarter_csv(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(params): Query<ReportParams>,
) -> Response {
    csv_report(
        &state,
        &headers,
        "hires-by-quarter",
        params.year(),
        async |db, year| {
            let rows = reports::hires_by_quarter(db, year, None, None).await?;
            let mut body = String::from("departmentId,department,jobId,job,q1,q2,q3,q4,total\n");
            for r in rows {
                body.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    r.department_id,
                    spreadsheet_text(&r.department),
                    r.job_id,
                    spreadsheet_text(&r.job),
                    r.q1,
                    r.q2,
                    r.q3,
                    r.q4,
                    r.total
                ));
            }
            Ok(body)
        },
    )
    .await
}

/// GET /reports/departments-above-mean.csv?year=2021: the departments above the mean.
async fn departments_above_mean_csv(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(params): Query<ReportParams>,
) -> Response {
    csv_report(
        &state,
        &headers,
        "departments-above-mean",
        params.year(),
        async |db, year| {
            let report = reports::departments_above_mean(db, year).await?;
            let mut body = String::from("year,mean,id,department,hired\n");
            for d in report.departments {
                body.push_str(&format!(
                    "{},{},{},{},{}\n",
                    report.year,
                    report.mean,
                    d.id,
                    spreadsheet_text(&d.department),
                    d.hired
                ));
            }
            Ok(body)
        },
    )
    .await
}

/// GET /healthz: the process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// GET /readyz: the database (and the read replica, when one is set) answers within two seconds.
async fn readyz(State(state): State<HttpState>) -> Response {
    let (primary, replica) = (&state.app.db, &state.app.read_db);
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

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint; GraphQL is at /graphql",
    )
}
