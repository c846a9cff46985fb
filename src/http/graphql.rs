//! GET and POST `/graphql`, as the GraphQL-over-HTTP spec has them: the
//! request is read (see `graphql_request`), the response's media type is
//! negotiated from `Accept` (see `negotiate`), and the result is sent with the
//! status that media type calls for.

use async_graphql::{
    ServerError,
    parser::{
        parse_query,
        types::{ExecutableDocument, OperationType},
    },
};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::{
    caching::{self, Lookup, Scope},
    caller::identify,
    error::HttpError,
    graphql_request::{GetParams, read_request},
    negotiate::{MediaType, prefers_html},
    pages,
};
use crate::{
    auth::Caller,
    graphql::{error_codes::with_code, schema::AppSchema},
    service::data_version,
    state::AppState,
};

/// The longest query text accepted (variables are not counted): parsing is
/// linear but not cheap, and no real query comes near it; large inserts send
/// their rows as variables.
pub const MAX_QUERY_BYTES: usize = 256 * 1024;

/// One request being answered: who asks, how the answer is sent, and what
/// it is answered with.
struct Exchange<'a> {
    state: &'a AppState,
    schema: &'a AppSchema,
    caller: Caller,
    media: MediaType,
    headers: &'a HeaderMap,
    /// Sent with GET, which may not run mutations.
    via_get: bool,
}

/// An answer: computed now, or the body of one kept in the response cache.
enum Answer {
    Fresh(async_graphql::Response),
    Kept(Bytes),
}

/// Runs `request` and answers it, from the HTTP cache where its scope allows.
async fn execute(exchange: Exchange<'_>, mut request: async_graphql::Request) -> Response {
    if let Err(err) = exchange.state.persisted.resolve(&mut request) {
        let error = with_code(ServerError::new(err.message(), None), err.code());
        let answer = Answer::Fresh(async_graphql::Response::from_errors(vec![error]));
        return respond(&exchange, answer, None);
    }
    // Parsed once here for the checks below; the schema parses it again to run it.
    let mut document = None;
    if exchange.via_get {
        document = parse_query(&request.query).ok();
        let operation = request.operation_name.as_deref();
        if document.as_ref().is_some_and(|d| is_mutation(d, operation)) {
            return HttpError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "mutations must be sent with POST",
            )
            .with_header(header::ALLOW, HeaderValue::from_static("POST"))
            .into_response();
        }
    }
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
    let document = document.or_else(|| parse_query(&request.query).ok());
    let operation = request.operation_name.as_deref();
    let Some(scope) = document.and_then(|d| caching::scope(&d, operation)) else {
        let answer = Answer::Fresh(run(&exchange, request).await);
        return respond(&exchange, answer, None);
    };
    let version = match data_version::current(&exchange.state.read_db).await {
        Ok(version) => version,
        Err(err) => {
            err.log();
            let answer = Answer::Fresh(run(&exchange, request).await);
            return respond(&exchange, answer, None);
        }
    };
    let etag = caching::etag(&request, &exchange.caller, exchange.media, &version);
    if caching::not_modified(exchange.headers, &etag) {
        return caching::not_modified_response(&etag, exchange.state.cache_max_age);
    }
    let answer = match scope {
        Scope::Reports => kept_or_run(&exchange, request, &etag).await,
        Scope::Data => Answer::Fresh(run(&exchange, request).await),
    };
    respond(&exchange, answer, Some(&etag))
}

/// Runs `request` through the schema.
async fn run(
    exchange: &Exchange<'_>,
    mut request: async_graphql::Request,
) -> async_graphql::Response {
    // Set by the request-id layer on every request; the audit log records it.
    let request_id = exchange
        .headers
        .get(super::request_id::REQUEST_ID)
        .and_then(|value| value.to_str().ok());
    if let Some(request_id) = request_id {
        request = request.data(crate::graphql::audit::RequestId(request_id.to_owned()));
    }
    exchange
        .schema
        .execute(request.data(exchange.caller.clone()))
        .await
}

/// The answer kept under `etag`, or the one computed now (and kept, when it
/// has no error); identical requests meanwhile wait for it.
async fn kept_or_run(
    exchange: &Exchange<'_>,
    request: async_graphql::Request,
    etag: &str,
) -> Answer {
    let state = exchange.state;
    let again = replay(&request);
    let mut own = None;
    let (kept, lookup) = state
        .response_cache
        .get_or_compute(etag, async || {
            let response = run(exchange, request).await;
            match response.errors.is_empty() {
                true => serde_json::to_vec(&response).ok().map(Bytes::from),
                false => {
                    own = Some(response);
                    None
                }
            }
        })
        .await;
    state
        .metrics
        .response_cache(lookup == Lookup::Hit, state.response_cache.bytes());
    match (kept, own) {
        (Some(body), _) => Answer::Kept(body),
        (None, Some(response)) => Answer::Fresh(response),
        // The request computing it meanwhile got errors: answer for ourselves.
        (None, None) => Answer::Fresh(run(exchange, again).await),
    }
}

/// The same query, operation and variables as `request`, to run again.
fn replay(request: &async_graphql::Request) -> async_graphql::Request {
    let mut again =
        async_graphql::Request::new(request.query.clone()).variables(request.variables.clone());
    again.operation_name = request.operation_name.clone();
    again
}

/// `answer` as an HTTP response, with `etag` when it has no error.
fn respond(exchange: &Exchange<'_>, answer: Answer, etag: Option<&str>) -> Response {
    let media = exchange.media;
    let (status, body, headers, clean) = match answer {
        // Shared with the cache, not copied.
        Answer::Kept(body) => (StatusCode::OK, Ok(body), HeaderMap::new(), true),
        Answer::Fresh(response) => {
            let (status, omit_data) = media.status_of(&response);
            let body = if omit_data {
                serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
            } else {
                serde_json::to_vec(&response)
            };
            let clean = response.errors.is_empty();
            (status, body.map(Bytes::from), response.http_headers, clean)
        }
    };
    let Ok(body) = body else {
        tracing::error!("a GraphQL response could not be serialized");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut http = (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response();
    http.headers_mut().extend(headers);
    let etag = etag.filter(|_| clean);
    caching::mark(http.headers_mut(), etag, exchange.state.cache_max_age);
    http
}

/// The media type `req` accepts, or the 406 answer when it accepts none we send.
fn negotiated(headers: &HeaderMap) -> Result<MediaType, HttpError> {
    MediaType::negotiate(headers).ok_or_else(|| {
        HttpError::new(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            "GraphQL responses are sent as application/graphql-response+json or application/json \
             (UTF-8); the Accept header allows neither",
        )
    })
}

/// GET /graphql: a query in the URL is run; a browser (or a URL without a
/// query) gets GraphiQL, with the URL's query, variables and operation filled in.
pub async fn graphql_get(
    State(state): State<AppState>,
    State(schema): State<AppSchema>,
    req: Request,
) -> Response {
    if req.uri().query().is_none_or(str::is_empty) || prefers_html(req.headers()) {
        return pages::playground(state.playground_cdn).into_response();
    }
    match read_get(&state, req.headers(), req.uri()).await {
        Ok((caller, request, media)) => {
            let exchange = Exchange {
                state: &state,
                schema: &schema,
                caller,
                media,
                headers: req.headers(),
                via_get: true,
            };
            execute(exchange, request).await
        }
        Err(err) => err.into_response(),
    }
}

/// The caller, request and media type of a GET.
async fn read_get(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<(Caller, async_graphql::Request, MediaType), HttpError> {
    let media = negotiated(headers)?;
    let caller = identify(state, headers).await?;
    let request = GetParams::read(uri)?.into_request()?;
    Ok((caller, request, media))
}

/// Whether the operation `operation_name` picks from `document` is a mutation.
fn is_mutation(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    document.operations.iter().any(|(name, op)| {
        let selected = match (operation_name, name) {
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
    let media = match negotiated(req.headers()) {
        Ok(media) => media,
        Err(err) => return err.into_response(),
    };
    let headers = req.headers().clone();
    let caller = match identify(&state, &headers).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    match read_request(req, &caller, &state).await {
        Ok(request) => {
            let exchange = Exchange {
                state: &state,
                schema: &schema,
                caller,
                media,
                headers: &headers,
                via_get: false,
            };
            execute(exchange, request).await
        }
        Err(err) => err.into_response(),
    }
}
