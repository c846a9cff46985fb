//! A small graphql-transport-ws client over a real socket, for the
//! subscription tests (the npm `graphql-ws` client is tested in
//! `graphql_ws_client.rs`).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// What the server sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `next` message: one result of subscription `id`.
    Next(String, Value),
    /// An `error` message: subscription `id` was refused.
    Error(String, Value),
    /// Subscription `id` completed.
    Complete(String),
    /// The server closed the socket with this code and reason.
    Closed(u16, String),
}

/// One open connection.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u32,
}

/// Opens a socket to `address`'s `/graphql` with the graphql-transport-ws subprotocol.
pub async fn open(address: &str) -> Result<WsClient, String> {
    open_from(address, None).await
}

/// Opens a socket as a browser page at `origin` would (with its `Origin` header).
pub async fn open_from(address: &str, origin: Option<&str>) -> Result<WsClient, String> {
    let mut request = format!("ws://{address}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    let (socket, _) = connect_async(request)
        .await
        .map_err(|err| err.to_string())?;
    Ok(WsClient { socket, next_id: 0 })
}

impl WsClient {
    /// Opens a connection and initialises it with `token`, waiting for the ack.
    pub async fn connect(address: &str, token: Option<&str>) -> Result<WsClient, Event> {
        let mut client = open(address).await.map_err(|err| Event::Closed(0, err))?;
        client.init(token).await?;
        Ok(client)
    }

    /// Sends `connection_init` with the token and waits for `connection_ack`.
    pub async fn init(&mut self, token: Option<&str>) -> Result<(), Event> {
        let payload = match token {
            Some(token) => json!({ "authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            match self.raw(Duration::from_secs(10)).await {
                Some(Ok(message)) if message["type"] == "connection_ack" => return Ok(()),
                Some(Ok(_)) => continue,
                Some(Err(closed)) => return Err(closed),
                None => return Err(Event::Closed(0, "no connection_ack".into())),
            }
        }
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// Starts a subscription; returns its id.
    pub async fn subscribe(&mut self, query: &str) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
        id
    }

    /// Stops subscription `id`.
    pub async fn complete(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" })).await;
    }

    /// The next protocol message as JSON, or the close; `None` on timeout.
    async fn raw(&mut self, timeout: Duration) -> Option<Result<Value, Event>> {
        loop {
            let message = tokio::time::timeout(timeout, self.socket.next())
                .await
                .ok()?;
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(Ok(value));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Err(Event::Closed(code, reason)));
                }
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Some(Err(Event::Closed(1006, err.to_string()))),
                None => return Some(Err(Event::Closed(1006, "ended".into()))),
            }
        }
    }

    /// The next event, or `None` when nothing came within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Event> {
        Some(match self.raw(timeout).await? {
            Err(closed) => closed,
            Ok(message) => {
                let id = message["id"].as_str().unwrap_or_default().to_owned();
                match message["type"].as_str() {
                    Some("next") => Event::Next(id, message["payload"].clone()),
                    Some("error") => Event::Error(id, message["payload"].clone()),
                    Some("complete") => Event::Complete(id),
                    other => panic!("unexpected message {other:?}: {message}"),
                }
            }
        })
    }

    /// The next result's `data`, failing the test on anything else.
    pub async fn next_data(&mut self, timeout: Duration) -> Value {
        match self.next(timeout).await {
            Some(Event::Next(_, payload)) => {
                assert!(payload.get("errors").is_none(), "errors: {payload}");
                payload["data"].clone()
            }
            other => panic!("expected a result, got {other:?}"),
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
