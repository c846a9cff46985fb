//! Request ids, the request span in JSON logs, and Prometheus metrics.

mod common;

use std::sync::Arc;

use axum::{Router, body::Body, http::Request};
use common::{Server, TestDb, send};
use hiring_analytics::{app, service::backup::Backups, service::backup::Storage};

fn graphql(query: &str, request_id: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    request
        .body(Body::from(
            serde_json::json!({ "query": query }).to_string(),
        ))
        .unwrap()
}

async fn metrics(router: &Router) -> String {
    let response = send(
        router,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status, 200);
    response.text()
}

/// The value of the sample whose line starts with `prefix`.
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{metrics}"))
}

async fn the_first_scrape_shows_the_build_and_the_process_and_passes_promtool(t: TestDb) {
    let router = app(t.local_state());
    let text = metrics(&router).await;
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &text,
            &format!("hiring_analytics_build_info{{version=\"{version}\"}}")
        ),
        1.0
    );
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        sample(&text, name);
    }
    assert!(sample(&text, "process_resident_memory_bytes") > 0.0);
    let Some(promtool) = promtool() else {
        return;
    };
    let check = promtool_check(promtool, &text);
    assert!(check.status.success(), "promtool: {check:?}");
}

/// `promtool` (Debian's `prometheus` package), or `None` with a notice
/// outside CI; CI requires it.
fn promtool() -> Option<&'static str> {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("promtool");
    }
    if std::env::var_os("CI").is_some() {
        panic!("promtool is not installed, and CI requires the metrics check");
    }
    eprintln!("notice: promtool is not installed; skipping the exposition check");
    None
}

/// `promtool check metrics` run on `exposition`.
fn promtool_check(promtool: &str, exposition: &str) -> std::process::Output {
    use std::{io::Write, process::Stdio};
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn every_response_carries_a_request_id_and_keeps_a_usable_one_from_the_client(t: TestDb) {
    let router = app(t.local_state());
    let fresh = router
        .clone()
        .oneshot_id(graphql("{ departments { id } }", None))
        .await;
    assert_eq!(fresh.len(), 36, "a UUID: {fresh}");
    let again = router
        .clone()
        .oneshot_id(graphql("{ departments { id } }", None))
        .await;
    assert_ne!(fresh, again);
    let kept = router
        .clone()
        .oneshot_id(graphql("{ departments { id } }", Some("trace-42.abc")))
        .await;
    assert_eq!(kept, "trace-42.abc");
    let too_long = "x".repeat(500);
    let replaced = router
        .clone()
        .oneshot_id(graphql("{ departments { id } }", Some(&too_long)))
        .await;
    assert_eq!(replaced.len(), 36);
    let health = router
        .oneshot_id(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(health.len(), 36);
}

trait RequestIdOf {
    async fn oneshot_id(self, request: Request<Body>) -> String;
}

impl RequestIdOf for Router {
    async fn oneshot_id(self, request: Request<Body>) -> String {
        use tower::ServiceExt;
        let response = self.oneshot(request).await.unwrap();
        response
            .headers()
            .get("x-request-id")
            .expect("an x-request-id header")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

async fn metrics_count_requests_operations_and_rejected_rows(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut state = t.local_state();
    state.backups = Arc::new(Backups::new(Storage::local(dir.path())));
    let admin = secrecy::SecretString::from("admin-token-for-metrics-0123456".to_owned());
    state.policy = Arc::new(hiring_analytics::auth::AccessPolicy::new(
        Some(&admin),
        None,
        true,
    ));
    let router = app(state);
    for _ in 0..2 {
        send(
            &router,
            graphql("query ListDepartments { departments { id } }", None),
        )
        .await;
    }
    send(&router, graphql("query Broken { nope }", None)).await;
    let insert = r#"mutation AddDepartments { insertDepartments(rows: [{id: 1, department: "Sales"}, {id: 0, department: "Bad"}, {id: 2, department: ""}]) { inserted } }"#;
    let as_admin = |query: &str| {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", "Bearer admin-token-for-metrics-0123456")
            .body(Body::from(
                serde_json::json!({ "query": query }).to_string(),
            ))
            .unwrap()
    };
    let inserted = send(&router, as_admin(insert)).await.json();
    assert_eq!(
        inserted["data"]["insertDepartments"]["inserted"], 1,
        "{inserted}"
    );
    let backup = send(&router, as_admin("mutation { backup { id } }"))
        .await
        .json();
    assert!(backup["data"]["backup"]["id"].is_string(), "{backup}");

    let text = metrics(&router).await;
    let prefix = "hiring_analytics_graphql_requests_total";
    assert_eq!(
        sample(
            &text,
            &format!(r#"{prefix}{{operation="ListDepartments",outcome="ok",type="query"}}"#)
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"{prefix}{{operation="Broken",outcome="error",type="query"}}"#)
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_graphql_request_duration_seconds_count{operation="ListDepartments",type="query"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_rejected_rows_total{reason="INVALID_ID"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_rejected_rows_total{reason="MISSING_FIELD"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_operations_total{kind="backup",outcome="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_operation_duration_seconds_count{kind="backup"}"#
        ),
        1.0
    );
}

async fn client_chosen_operation_names_cannot_grow_the_metrics_without_bound(t: TestDb) {
    let router = app(t.local_state());
    for i in 0..(hiring_analytics::metrics::MAX_OPERATION_NAMES + 50) {
        send(
            &router,
            graphql(&format!("query Q{i} {{ departments {{ id }} }}"), None),
        )
        .await;
    }
    let text = metrics(&router).await;
    let labelled = text
        .lines()
        .filter(|line| line.starts_with("hiring_analytics_graphql_requests_total{"))
        .count();
    assert_eq!(labelled, hiring_analytics::metrics::MAX_OPERATION_NAMES + 1);
    assert_eq!(
        sample(
            &text,
            r#"hiring_analytics_graphql_requests_total{operation="other",outcome="ok",type="query"}"#
        ),
        50.0
    );
}

async fn json_logs_carry_the_request_id_and_the_operation_name(t: TestDb) {
    let mut server = Server::start(&t.url, &[("LOG_FORMAT", "json")]);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{}/graphql", server.address))
        .header("x-request-id", "req-7f3a")
        .json(&serde_json::json!({ "query": "query TeamList { departments { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-7f3a");
    let (_, logs) = server.terminate();
    let line = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["span"]["request_id"] == "req-7f3a")
        .unwrap_or_else(|| panic!("no log line with the request id:\n{}", logs.join("\n")));
    assert_eq!(line["span"]["operation"], "TeamList", "{line}");
}

db_tests!(
    every_response_carries_a_request_id_and_keeps_a_usable_one_from_the_client,
    metrics_count_requests_operations_and_rejected_rows,
    client_chosen_operation_names_cannot_grow_the_metrics_without_bound,
    json_logs_carry_the_request_id_and_the_operation_name,
    the_first_scrape_shows_the_build_and_the_process_and_passes_promtool,
);
