//! Every access-control rule, over HTTP, on SQLite and PostgreSQL.

mod common;

use axum::{Router, body::Body, http::Request};
use common::{TestDb, first_error_code, post_graphql, send};
use hiring_analytics::{app, auth::AccessPolicy};
use secrecy::SecretString;
use serde_json::Value;

const ADMIN: &str = "admin-token-for-tests-0123456789";
const API: &str = "api-token-for-tests-0123456789";

const WRITE: &str =
    r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted } }"#;
const ADMIN_OP: &str = "{ rejectedRows { edges { node { code } } } }";
const READ: &str = "{ departments { id } }";

fn secret(token: &str) -> SecretString {
    SecretString::from(token.to_owned())
}

fn app_with(t: &TestDb, admin: Option<&str>, api: Option<&str>, loopback: bool) -> Router {
    let admin = admin.map(secret);
    let api = api.map(secret);
    app(t.state(AccessPolicy::new(admin.as_ref(), api.as_ref(), loopback)))
}

async fn code_of(app: &Router, token: Option<&str>, query: &str) -> Option<String> {
    let body = post_graphql(app, token, query).await.json();
    first_error_code(&body)
}

async fn departments(app: &Router) -> Value {
    post_graphql(app, None, READ).await.json()["data"]["departments"].clone()
}

async fn reads_are_open_without_a_token(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(code_of(&app, None, READ).await, None);
}

async fn writes_without_a_token_are_unauthenticated_when_tokens_are_set(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), true);
    assert_eq!(
        code_of(&app, None, WRITE).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(departments(&app).await, serde_json::json!([]));
}

async fn the_api_token_grants_writes(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(code_of(&app, Some(API), WRITE).await, None);
    assert_eq!(departments(&app).await, serde_json::json!([{"id": 1}]));
}

async fn the_admin_token_grants_writes(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(code_of(&app, Some(ADMIN), WRITE).await, None);
    assert_eq!(departments(&app).await, serde_json::json!([{"id": 1}]));
}

async fn the_admin_token_grants_admin_operations(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(code_of(&app, Some(ADMIN), ADMIN_OP).await, None);
}

async fn the_api_token_is_forbidden_admin_operations(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(
        code_of(&app, Some(API), ADMIN_OP).await.as_deref(),
        Some("FORBIDDEN")
    );
}

async fn admin_operations_without_a_token_are_unauthenticated(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(
        code_of(&app, None, ADMIN_OP).await.as_deref(),
        Some("UNAUTHENTICATED")
    );
}

async fn an_unknown_token_is_refused_with_401_even_for_reads(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    let response = post_graphql(&app, Some("wrong-token"), READ).await;
    assert_eq!(response.status, 401);
    assert_eq!(response.headers["www-authenticate"], "Bearer");
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("UNAUTHENTICATED")
    );
}

async fn a_malformed_authorization_header_is_refused_with_401(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    let response = send(
        &app,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Basic {ADMIN}"))
            .body(Body::from(serde_json::json!({ "query": READ }).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 401);
    let body = response.json();
    assert_eq!(first_error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    assert!(
        !body.to_string().contains(ADMIN),
        "the token must not be echoed"
    );
}

async fn with_no_tokens_on_loopback_writes_are_open(t: TestDb) {
    let app = app_with(&t, None, None, true);
    assert_eq!(code_of(&app, None, WRITE).await, None);
    assert_eq!(departments(&app).await, serde_json::json!([{"id": 1}]));
}

async fn with_no_tokens_admin_operations_are_refused_saying_how_to_enable_them(t: TestDb) {
    let app = app_with(&t, None, None, true);
    let body = post_graphql(&app, None, ADMIN_OP).await.json();
    assert_eq!(first_error_code(&body).as_deref(), Some("FORBIDDEN"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ADMIN_TOKEN"),
        "{body}"
    );
}

async fn with_no_tokens_off_loopback_writes_are_forbidden(t: TestDb) {
    let app = app_with(&t, None, None, false);
    assert_eq!(
        code_of(&app, None, WRITE).await.as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(code_of(&app, None, READ).await, None);
    assert_eq!(departments(&app).await, serde_json::json!([]));
}

async fn with_only_an_api_token_admin_operations_are_disabled(t: TestDb) {
    let app = app_with(&t, None, Some(API), false);
    let body = post_graphql(&app, Some(API), ADMIN_OP).await.json();
    assert_eq!(first_error_code(&body).as_deref(), Some("FORBIDDEN"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ADMIN_TOKEN")
    );
    assert_eq!(code_of(&app, Some(API), WRITE).await, None);
}

async fn every_insert_mutation_needs_write_access(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    for mutation in [
        r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted } }"#,
        r#"mutation { insertJobs(rows: [{id: 1, job: "Clerk"}]) { inserted } }"#,
        r#"mutation { insertHiredEmployees(rows: [{id: 1, name: "Ada", hireDatetime: "2021-01-01T00:00:00Z", departmentId: 1, jobId: 1}]) { inserted } }"#,
    ] {
        assert_eq!(
            code_of(&app, None, mutation).await.as_deref(),
            Some("UNAUTHENTICATED"),
            "{mutation}"
        );
        assert_eq!(code_of(&app, Some(API), mutation).await, None, "{mutation}");
    }
}

db_tests!(
    reads_are_open_without_a_token,
    writes_without_a_token_are_unauthenticated_when_tokens_are_set,
    the_api_token_grants_writes,
    the_admin_token_grants_writes,
    the_admin_token_grants_admin_operations,
    the_api_token_is_forbidden_admin_operations,
    admin_operations_without_a_token_are_unauthenticated,
    an_unknown_token_is_refused_with_401_even_for_reads,
    a_malformed_authorization_header_is_refused_with_401,
    with_no_tokens_on_loopback_writes_are_open,
    with_no_tokens_admin_operations_are_refused_saying_how_to_enable_them,
    with_no_tokens_off_loopback_writes_are_forbidden,
    with_only_an_api_token_admin_operations_are_disabled,
    every_insert_mutation_needs_write_access,
);
