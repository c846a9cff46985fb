//! GraphQL subscriptions over WebSocket at `/graphql`, with the
//! `graphql-transport-ws` protocol (what npm `graphql-ws` speaks; the older
//! `graphql-ws` protocol is also accepted).
//!
//! The token goes in `connection_init`'s payload, `{ "authorization":
//! "Bearer …" }`, checked by the same rules as HTTP; a bad token closes the
//! socket with 4403. Each client address may hold a bounded number of
//! connections, each connection a bounded number of subscriptions, and a
//! connection without subscriptions is closed after the idle timeout.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_graphql::{
    Data, Executor, ServerError,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphQLSocket, WebSocketProtocols, WsMessage},
};
use axum::{
    extract::{
        ConnectInfo, FromRequestParts, Request, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{FutureExt, SinkExt, StreamExt, future, future::BoxFuture, stream::BoxStream};

use super::{
    MAX_QUERY_BYTES, abuse_limits::RequestLimits, caller::authenticate, error::HttpError,
    live_limits::Slot, persisted::PersistedQueries,
};
use crate::{
    auth::Caller, graphql::error_codes::with_code, graphql::schema::AppSchema, metrics::Metrics,
    state::AppState,
};

/// How long a client has to send `connection_init` (closed with 4408 after).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a connection checks its timeouts.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// GET `/graphql`: a WebSocket for subscriptions when the client asks to
/// upgrade, otherwise a query (or the playground).
pub async fn graphql_get_or_subscribe(
    State(state): State<AppState>,
    State(schema): State<AppSchema>,
    request: Request,
) -> Response {
    let upgrading = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if upgrading {
        upgrade(state, schema, request).await
    } else {
        super::graphql::graphql_get(State(state), State(schema), request).await
    }
}

/// Upgrades a GET `/graphql` that asks for a WebSocket.
async fn upgrade(state: AppState, schema: AppSchema, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| {
            peer.ip()
        });
    let (mut parts, _) = request.into_parts();
    if let Some(origin) = parts.headers.get(header::ORIGIN)
        && !state
            .cors_origins
            .allows_socket_from(origin, parts.headers.get(header::HOST))
    {
        state.metrics.live_refused("foreign_origin");
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN_ORIGIN",
            "WebSocket connections are accepted from this server's own pages and the origins in \
             CORS_ORIGINS only",
        )
        .into_response();
    }
    let Some(protocol) = protocol_asked(&parts.headers) else {
        return HttpError::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_WEBSOCKET_PROTOCOL",
            "ask for the graphql-transport-ws subprotocol (Sec-WebSocket-Protocol)",
        )
        .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(slot) = state.live.admit(client) else {
        state.metrics.live_refused("too_many_connections");
        return HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_CONNECTIONS",
            "this client holds the most WebSocket connections allowed (WS_MAX_CONNECTIONS_PER_CLIENT)",
        )
        .into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, state, schema, protocol, slot))
}

/// The schema, counting the subscriptions of one connection against its
/// limit, and holding every operation sent over the socket to the rules of
/// HTTP: the largest query, and persisted queries (`PERSISTED_QUERIES=only`).
#[derive(Clone)]
struct Counted {
    schema: AppSchema,
    active: Arc<AtomicUsize>,
    limit: usize,
    metrics: Arc<Metrics>,
    persisted: Arc<PersistedQueries>,
    /// Every operation counts against the client's HTTP rate (`RATE_LIMIT_PER_SECOND`).
    limits: RequestLimits,
    client: IpAddr,
    /// Whether the connection's caller may introspect (`INTROSPECTION`).
    session: Arc<Session>,
}

/// How long the connection's credentials last, as `connection_init` established.
struct Session {
    /// When they expire (Unix seconds): a JWT's `exp`.
    valid_until: AtomicI64,
}

impl Session {
    fn new() -> Self {
        Self {
            valid_until: AtomicI64::new(i64::MAX),
        }
    }

    /// Takes how long `caller`'s credentials last.
    fn establish(&self, caller: &Caller) {
        let valid_until = caller.valid_until.unwrap_or(i64::MAX);
        self.valid_until.store(valid_until, Ordering::Relaxed);
    }

    /// Whether the caller's credentials have expired.
    fn expired(&self) -> bool {
        chrono::Utc::now().timestamp() > self.valid_until.load(Ordering::Relaxed)
    }
}

/// A one-result stream that refuses an operation with `code`.
fn refusal(message: &str, code: &str) -> BoxStream<'static, async_graphql::Response> {
    let error = with_code(ServerError::new(message, None), code);
    let refused = async_graphql::Response::from_errors(vec![error]);
    futures_util::stream::once(future::ready(refused)).boxed()
}

impl Counted {
    /// The request as it may run, or why it may not.
    fn admit(
        &self,
        mut request: async_graphql::Request,
    ) -> Result<async_graphql::Request, BoxStream<'static, async_graphql::Response>> {
        if let Err(seconds) = self.limits.check_client(self.client) {
            let message = format!("too many requests from this client; retry in {seconds} s");
            return Err(refusal(&message, "RATE_LIMITED"));
        }
        if let Err(err) = self.persisted.resolve(&mut request) {
            return Err(refusal(&err.message(), err.code()));
        }
        if request.query.len() > MAX_QUERY_BYTES {
            let message = format!("the query is longer than {MAX_QUERY_BYTES} bytes");
            return Err(refusal(&message, "QUERY_TOO_LARGE"));
        }
        if self.session.expired() {
            let message = "the token has expired; connect again with a new one";
            return Err(refusal(message, "UNAUTHENTICATED"));
        }
        Ok(request)
    }
}

/// One active subscription, uncounted when its stream is dropped.
struct Active {
    active: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        self.metrics.subscriptions(-1);
    }
}

impl Executor for Counted {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let request = match self.admit(request) {
            Ok(request) => request,
            Err(refused) => return refused,
        };
        if self.active.fetch_add(1, Ordering::Relaxed) >= self.limit {
            self.active.fetch_sub(1, Ordering::Relaxed);
            self.metrics.live_refused("too_many_subscriptions");
            return refusal(
                "this connection holds the most subscriptions allowed \
                 (WS_MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first",
                "TOO_MANY_SUBSCRIPTIONS",
            );
        }
        self.metrics.subscriptions(1);
        let held = Active {
            active: Arc::clone(&self.active),
            metrics: Arc::clone(&self.metrics),
        };
        Executor::execute_stream(&self.schema, request, session_data)
            .map(move |response| {
                let _held = &held;
                response
            })
            .boxed()
    }
}

/// Identifies the caller from `connection_init`'s payload by the HTTP rules
/// ([`authenticate`]); a refusal sets `refused`, so the socket closes with 4403.
fn identify(
    state: &AppState,
    refused: Arc<AtomicBool>,
    session: Arc<Session>,
) -> impl FnOnce(serde_json::Value) -> BoxFuture<'static, async_graphql::Result<Data>> + Send + 'static
{
    let policy = Arc::clone(&state.policy);
    let metrics = Arc::clone(&state.metrics);
    move |payload| {
        async move {
            let authorization = ["authorization", "Authorization"]
                .iter()
                .find_map(|key| payload.get(*key)?.as_str());
            let authorization = authorization.map(str::as_bytes);
            if let Ok(caller) = authenticate(&policy, &metrics, authorization).await {
                session.establish(&caller);
                let mut data = Data::default();
                data.insert(caller);
                return Ok(data);
            }
            refused.store(true, Ordering::Relaxed);
            Err(async_graphql::Error::new("Forbidden"))
        }
        .boxed()
    }
}

/// What the connection's watchdog knows.
struct Watch {
    opened: Instant,
    busy_at: Instant,
    acknowledged: bool,
    session: Arc<Session>,
}

impl Watch {
    /// The close frame due now, if a timeout has passed.
    fn due(&mut self, active: usize, idle_timeout: Duration) -> Option<(u16, &'static str)> {
        let now = Instant::now();
        if active > 0 {
            self.busy_at = now;
        }
        if !self.acknowledged && now - self.opened >= INIT_TIMEOUT {
            return Some((4408, "Connection initialisation timeout"));
        }
        if self.acknowledged && self.session.expired() {
            return Some((4403, "token expired"));
        }
        (self.acknowledged && now - self.busy_at >= idle_timeout).then_some((1000, "idle timeout"))
    }
}

/// Runs one connection until either side closes it or a timeout passes.
async fn serve(
    socket: WebSocket,
    state: AppState,
    schema: AppSchema,
    protocol: WebSocketProtocols,
    slot: Slot,
) {
    let client = slot.client();
    let metrics = Arc::clone(&state.metrics);
    metrics.websocket_connections(1);
    let limits = state.live.limits();
    let refused = Arc::new(AtomicBool::new(false));
    let executor = Counted {
        schema,
        active: Arc::new(AtomicUsize::new(0)),
        limit: limits.max_subscriptions_per_connection,
        metrics: Arc::clone(&metrics),
        persisted: Arc::clone(&state.persisted),
        limits: state.request_limits.clone(),
        client,
        session: Arc::new(Session::new()),
    };
    let active = Arc::clone(&executor.active);
    let session = Arc::clone(&executor.session);
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| future::ready(!matches!(message, Err(_) | Ok(Message::Close(_)))))
        .filter_map(|message| {
            future::ready(match message {
                Ok(Message::Text(text)) => Some(axum::body::Bytes::from(text)),
                Ok(Message::Binary(bytes)) => Some(bytes),
                _ => None,
            })
        });
    let mut outgoing = GraphQLSocket::new(executor, input, protocol).on_connection_init(identify(
        &state,
        Arc::clone(&refused),
        Arc::clone(&session),
    ));
    let mut watch = Watch {
        opened: Instant::now(),
        busy_at: Instant::now(),
        acknowledged: false,
        session,
    };
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    let stopping = state.live.stopping();
    loop {
        let message = tokio::select! {
            () = stopping.cancelled() => close(1001, "server shutting down"),
            message = outgoing.next() => match message {
                Some(message) => to_axum(message, &refused, &mut watch, &metrics),
                None => break,
            },
            _ = ticks.tick() => match watch.due(active.load(Ordering::Relaxed), limits.idle_timeout) {
                Some((code, reason)) => {
                    match code {
                        1000 => metrics.live_refused("idle_timeout"),
                        4403 => metrics.live_refused("token_expired"),
                        _ => {}
                    }
                    close(code, reason)
                }
                None => continue,
            },
        };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
    metrics.websocket_connections(-1);
}

/// The first GraphQL subprotocol the client offers.
fn protocol_asked(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|offered| offered.trim().parse().ok())
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// One outgoing protocol message as a WebSocket message; a refused
/// `connection_init` closes with 4403, a subscribe before it with 4401.
fn to_axum(
    message: WsMessage,
    refused: &AtomicBool,
    watch: &mut Watch,
    metrics: &Metrics,
) -> Message {
    match message {
        WsMessage::Text(text) => {
            if !watch.acknowledged && text.contains("\"connection_ack\"") {
                watch.acknowledged = true;
            }
            Message::Text(text.into())
        }
        WsMessage::Close(1002, _) if refused.load(Ordering::Relaxed) => {
            metrics.live_refused("unauthenticated");
            close(4403, "Forbidden")
        }
        WsMessage::Close(1011, _) => close(4401, "Unauthorized"),
        WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })),
    }
}
