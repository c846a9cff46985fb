//! The application served in-process on a real bound port, for tests that
//! need a socket (WebSockets, a client such as reqwest) but their own state.

use std::net::SocketAddr;

use hiring_analytics::{AppState, app};
use reqwest::{Client, StatusCode, header::HeaderMap};
use serde_json::Value;
use tokio::task::JoinHandle;

/// The app over some state, listening on 127.0.0.1 on a port of its own;
/// stopped when dropped.
pub struct Bound {
    /// `127.0.0.1:<port>`.
    pub address: String,
    client: Client,
    task: JoinHandle<()>,
}

/// An answer as the tests look at it.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

impl Bound {
    /// Serves `app(state)` on a fresh port.
    pub async fn serve(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().unwrap().to_string();
        let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Self {
            address,
            client: Client::new(),
            task,
        }
    }

    /// POSTs `query` to `/graphql`, with `Authorization: Bearer <token>` when given.
    pub async fn graphql(&self, token: Option<&str>, query: &str) -> Answer {
        let mut request = self
            .client
            .post(format!("http://{}/graphql", self.address))
            .json(&serde_json::json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the server answers")).await
    }

    /// GETs `path`, with `Authorization: Bearer <token>` when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("http://{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the server answers")).await
    }

    /// The value of the `/metrics` sample `name` (with its labels), such as
    /// `hiring_analytics_auth_failures_total{reason="expired"}`.
    pub async fn metric(&self, name: &str) -> f64 {
        sample(&self.get("/metrics", None).await.text, name)
    }

    /// The values of the `/metrics` samples `names`, from one scrape.
    pub async fn metrics(&self, names: &[String]) -> Vec<f64> {
        let text = self.get("/metrics", None).await.text;
        names.iter().map(|name| sample(&text, name)).collect()
    }
}

/// The value of sample `name` in the Prometheus text `metrics`.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{metrics}"))
}

impl Drop for Bound {
    fn drop(&mut self) {
        self.task.abort();
    }
}
