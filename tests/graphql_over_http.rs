//! GraphQL over HTTP as the spec has it: media types and their status codes,
//! GET parameters, GraphiQL links and persisted queries; and real clients run
//! by Node against the built server (pinned in `tests/clients/package-lock.json`):
//! the spec's own server audit (npm `graphql-http`) and Apollo Client with its
//! persisted-queries link, on both backends.
//!
//! Without Node or the installed packages (`npm ci --prefix tests/clients`)
//! the tests are skipped with a notice; when `CI` is set they fail instead
//! (`.ci/run` installs them).

mod common;

use std::{path::Path, process::Command};

use axum::{
    Router,
    body::Body,
    http::{Request, header},
};
use common::{Server, TestDb, TestResponse, node_clients, send};
use hiring_analytics::app;
use serde_json::{Value, json};

/// Runs `script` of the Node clients with `args` and returns its JSON lines.
fn run_node(dir: &Path, script: &str, args: &[&str]) -> Vec<Value> {
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn the_spec_s_audit_reports_every_check_ok_with_no_warnings(t: TestDb) {
    let Some(clients) = node_clients(&["graphql-http", "@apollo/client"]) else {
        return;
    };
    let server = Server::start(&t.url, &[]);
    let url = format!("http://{}/graphql", server.address);
    let results = run_node(&clients, "audit.mjs", &[&url]);
    assert!(results.len() >= 50, "only {} audits ran", results.len());
    let failed: Vec<&Value> = results.iter().filter(|r| r["status"] != "ok").collect();
    assert!(
        failed.is_empty(),
        "{} of {} audits are not ok:\n{}",
        failed.len(),
        results.len(),
        failed
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// GET /graphql with these query-string parameters and `Accept`.
async fn get(router: &Router, params: &[(&str, &str)], accept: Option<&str>) -> TestResponse {
    let query = form_encoded(params);
    let mut request = Request::get(format!("/graphql?{query}"));
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

/// `params` as an `application/x-www-form-urlencoded` query string.
fn form_encoded(params: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POST /graphql with this JSON body and `Accept`.
async fn post(router: &Router, body: Value, accept: &str) -> TestResponse {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept)
        .body(Body::from(body.to_string()))
        .unwrap();
    send(router, request).await
}

fn content_type(response: &TestResponse) -> &str {
    response.headers[header::CONTENT_TYPE].to_str().unwrap()
}

async fn get_runs_the_operation_named_by_operation_name_with_its_variables(t: TestDb) {
    let router = app(t.local_state());
    let two = "query A { __typename } query B($year: Int!) { hiresByQuarter(year: $year) { total } departments { id } }";
    let response = get(
        &router,
        &[
            ("query", two),
            ("operationName", "B"),
            ("variables", r#"{"year": 2021}"#),
        ],
        None,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.json();
    assert!(body["data"]["departments"].is_array(), "{body}");
    assert!(body["data"]["__typename"].is_null(), "{body}");
    let metrics = send(
        &router,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await
    .text();
    assert!(
        metrics.contains(r#"graphql_requests_total{operation="B",outcome="ok",type="query"} 1"#),
        "{metrics}"
    );
}

async fn get_parameters_that_are_not_json_objects_are_refused_with_400(t: TestDb) {
    let router = app(t.local_state());
    for (name, value) in [
        ("variables", "[1]"),
        ("variables", "not json"),
        ("extensions", "\"text\""),
    ] {
        let response = get(&router, &[("query", "{ __typename }"), (name, value)], None).await;
        assert_eq!(response.status, 400, "{name}={value}: {}", response.text());
        assert_eq!(
            common::first_error_code(&response.json()).as_deref(),
            Some("BAD_REQUEST")
        );
    }
    let missing = get(&router, &[("operationName", "A")], None).await;
    assert_eq!(missing.status, 400, "{}", missing.text());
}

async fn each_media_type_gets_the_status_the_spec_gives_a_request_error(t: TestDb) {
    let router = app(t.local_state());
    let invalid = json!({ "query": "{ noSuchField }" });
    let strict = post(
        &router,
        invalid.clone(),
        "application/graphql-response+json",
    )
    .await;
    assert_eq!(strict.status, 400, "{}", strict.text());
    assert!(content_type(&strict).starts_with("application/graphql-response+json"));
    let body = strict.json();
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        common::first_error_code(&body).as_deref(),
        Some("GRAPHQL_VALIDATION_FAILED")
    );
    let legacy = post(&router, invalid, "application/json").await;
    assert_eq!(legacy.status, 200, "{}", legacy.text());
    assert!(content_type(&legacy).starts_with("application/json"));
    assert_eq!(legacy.json()["data"], Value::Null);
    // Once execution starts, a field error keeps the data and 200.
    let field_error =
        json!({ "query": "{ departments { id } hiresByQuarter(year: 0) { total } }" });
    let executed = post(&router, field_error, "application/graphql-response+json").await;
    assert_eq!(executed.status, 200, "{}", executed.text());
    let body = executed.json();
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(body["errors"][0]["path"][0], "hiresByQuarter", "{body}");
    let refused = post(&router, json!({ "query": "{ __typename }" }), "text/csv").await;
    assert_eq!(refused.status, 406, "{}", refused.text());
    assert_eq!(
        common::first_error_code(&refused.json()).as_deref(),
        Some("NOT_ACCEPTABLE")
    );
}

async fn a_browser_opening_a_graphql_link_gets_graphiql_and_api_clients_get_json(t: TestDb) {
    let router = app(t.local_state());
    let link = [("query", "{ departments { id } }"), ("operationName", "")];
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = get(&router, &link, Some(browser)).await;
    assert_eq!(page.status, 200);
    assert!(content_type(&page).starts_with("text/html"));
    let html = page.text();
    assert!(
        html.contains("new URLSearchParams(location.search)"),
        "{html}"
    );
    assert!(html.contains(r#"query: given("query")"#), "{html}");
    for accept in [None, Some("*/*"), Some("application/json")] {
        let api = get(&router, &link, accept).await;
        assert_eq!(api.status, 200, "{accept:?}");
        assert!(api.json()["data"]["departments"].is_array(), "{accept:?}");
    }
}

async fn apollo_client_registers_a_persisted_query_once_then_sends_hash_only_gets(t: TestDb) {
    let Some(clients) = node_clients(&["graphql-http", "@apollo/client"]) else {
        return;
    };
    let server = Server::start(&t.url, &[("DEMO", "true")]);
    let url = format!("http://{}/graphql", server.address);
    let lines = run_node(&clients, "apollo.mjs", &[&url]);
    let exchanges: Vec<&Value> = lines.iter().filter(|l| l.get("method").is_some()).collect();
    let shape: Vec<(String, bool, i64)> = exchanges
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["hashOnly"].as_bool().unwrap(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("GET", true, 400),
        ("POST", false, 200),
        ("GET", true, 200),
        ("POST", false, 200),
    ];
    assert_eq!(
        shape,
        expected.map(|(m, h, s)| (m.to_owned(), h, s)).to_vec(),
        "{lines:?}"
    );
    assert_eq!(exchanges[0]["codes"][0], "PERSISTED_QUERY_NOT_FOUND");
    let results: Vec<&Value> = lines.iter().filter(|l| l.get("result").is_some()).collect();
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_eq!(result["errors"], Value::Null, "{result}");
    }
    assert_eq!(results[0]["data"], results[1]["data"]);
    assert_eq!(results[0]["data"]["departmentsAboveMean"]["year"], 2021);
    assert_eq!(
        results[2]["data"]["departments"].as_array().unwrap().len(),
        12
    );
}

async fn a_plain_fetch_client_revalidates_a_report_until_an_insert_changes_it(t: TestDb) {
    let Some(clients) = node_clients(&["graphql-http", "@apollo/client"]) else {
        return;
    };
    let server = Server::start(&t.url, &[("DEMO", "true")]);
    let url = format!("http://{}/graphql", server.address);
    let steps = run_node(&clients, "fetch.mjs", &[&url]);
    let shape: Vec<(&str, i64)> = steps
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            ("get", 200),
            ("revalidate", 304),
            ("insert", 200),
            ("revalidate", 200)
        ],
        "{steps:?}"
    );
    let (first, last) = (&steps[0], &steps[3]);
    assert!(
        first["contentType"]
            .as_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    assert_eq!(steps[1]["etag"], first["etag"]);
    assert_ne!(last["etag"], first["etag"]);
    assert_eq!(
        last["rows"].as_i64().unwrap(),
        first["rows"].as_i64().unwrap() + 1,
        "{steps:?}"
    );
}

/// A persisted-query extension for `hash`.
fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn automatic_persisted_queries_work_over_post_and_get(t: TestDb) {
    let router = app(t.local_state());
    let query = "{ departments { id } }";
    let hash = hiring_analytics::http::persisted::sha256_hex(query);
    let ext = persisted(&hash).to_string();
    let unknown = get(&router, &[("extensions", &ext)], None).await;
    assert_eq!(
        common::first_error_code(&unknown.json()).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND"),
        "{}",
        unknown.text()
    );
    let registered = post(
        &router,
        json!({ "query": query, "extensions": persisted(&hash) }),
        "application/json",
    )
    .await;
    assert_eq!(registered.status, 200);
    assert!(registered.json()["data"]["departments"].is_array());
    let by_get = get(&router, &[("extensions", &ext)], None).await;
    assert!(
        by_get.json()["data"]["departments"].is_array(),
        "{}",
        by_get.text()
    );
    let by_post = post(
        &router,
        json!({ "extensions": persisted(&hash) }),
        "application/json",
    )
    .await;
    assert!(
        by_post.json()["data"]["departments"].is_array(),
        "{}",
        by_post.text()
    );
    let forged = post(
        &router,
        json!({ "query": "{ jobs { id } }", "extensions": persisted(&hash) }),
        "application/json",
    )
    .await;
    assert_eq!(
        common::first_error_code(&forged.json()).as_deref(),
        Some("BAD_REQUEST")
    );
    // A registered mutation still cannot run over GET.
    let mutation =
        r#"mutation { insertDepartments(rows: [{id: 50, department: "Ops"}]) { inserted } }"#;
    let mutation_hash = hiring_analytics::http::persisted::sha256_hex(mutation);
    post(
        &router,
        json!({ "query": mutation, "extensions": persisted(&mutation_hash) }),
        "application/json",
    )
    .await;
    let over_get = get(
        &router,
        &[("extensions", &persisted(&mutation_hash).to_string())],
        None,
    )
    .await;
    assert_eq!(over_get.status, 405, "{}", over_get.text());
}

async fn trusted_documents_mode_runs_only_the_registered_documents(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let known = "query Lists { departments { id } }";
    std::fs::write(dir.path().join("lists.graphql"), format!("{known}\n")).unwrap();
    let mut state = t.local_state();
    state.persisted = std::sync::Arc::new(
        hiring_analytics::http::persisted::PersistedQueries::load(
            hiring_analytics::http::persisted::PersistedMode::Only,
            Some(dir.path()),
        )
        .unwrap(),
    );
    let router = app(state);
    let by_text = post(&router, json!({ "query": known }), "application/json").await;
    assert!(
        by_text.json()["data"]["departments"].is_array(),
        "{}",
        by_text.text()
    );
    let hash = hiring_analytics::http::persisted::sha256_hex(known);
    let by_hash = get(
        &router,
        &[("extensions", &persisted(&hash).to_string())],
        None,
    )
    .await;
    assert!(
        by_hash.json()["data"]["departments"].is_array(),
        "{}",
        by_hash.text()
    );
    let other = post(
        &router,
        json!({ "query": "{ jobs { id } }" }),
        "application/graphql-response+json",
    )
    .await;
    assert_eq!(other.status, 400);
    assert_eq!(
        common::first_error_code(&other.json()).as_deref(),
        Some("PERSISTED_QUERY_NOT_IN_LIST")
    );
}

#[test]
fn trusted_documents_mode_without_its_folder_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::binary()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", "sqlite::memory:")
        .env("PERSISTED_QUERIES", "only")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PERSISTED_QUERIES_DIR"));
}

db_tests!(
    the_spec_s_audit_reports_every_check_ok_with_no_warnings,
    apollo_client_registers_a_persisted_query_once_then_sends_hash_only_gets,
    a_plain_fetch_client_revalidates_a_report_until_an_insert_changes_it,
    automatic_persisted_queries_work_over_post_and_get,
    trusted_documents_mode_runs_only_the_registered_documents,
    get_runs_the_operation_named_by_operation_name_with_its_variables,
    get_parameters_that_are_not_json_objects_are_refused_with_400,
    each_media_type_gets_the_status_the_spec_gives_a_request_error,
    a_browser_opening_a_graphql_link_gets_graphiql_and_api_clients_get_json,
);
