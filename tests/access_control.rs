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
    post_graphql(app, Some(ADMIN), READ).await.json()["data"]["departments"].clone()
}

async fn message_of(app: &Router, token: Option<&str>, query: &str) -> String {
    let body = post_graphql(app, token, query).await.json();
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn anonymous_requests_off_loopback_get_401_by_default(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    let response = post_graphql(&app, None, READ).await;
    assert_eq!(response.status, 401);
    assert_eq!(response.headers["www-authenticate"], "Bearer");
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("UNAUTHENTICATED")
    );
}

async fn anonymous_callers_on_loopback_with_tokens_set_are_analysts(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), true);
    assert_eq!(code_of(&app, None, READ).await, None);
    assert_eq!(
        code_of(&app, None, "{ hiredEmployee(id: 1) { name } }").await,
        None
    );
    assert_eq!(
        code_of(&app, None, WRITE).await.as_deref(),
        Some("FORBIDDEN")
    );
    assert!(message_of(&app, None, WRITE).await.contains("editor"));
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

async fn the_api_token_is_forbidden_admin_operations_naming_the_role_needed(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), false);
    assert_eq!(
        code_of(&app, Some(API), ADMIN_OP).await.as_deref(),
        Some("FORBIDDEN")
    );
    let message = message_of(&app, Some(API), ADMIN_OP).await;
    assert!(message.contains("admin role"), "{message}");
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

async fn with_no_tokens_on_loopback_anonymous_callers_are_editors(t: TestDb) {
    let app = app_with(&t, None, None, true);
    assert_eq!(code_of(&app, None, WRITE).await, None);
    let body = post_graphql(&app, None, READ).await.json();
    assert_eq!(body["data"]["departments"], serde_json::json!([{"id": 1}]));
}

async fn with_no_tokens_admin_operations_are_refused_naming_the_admin_role(t: TestDb) {
    let app = app_with(&t, None, None, true);
    let body = post_graphql(&app, None, ADMIN_OP).await.json();
    assert_eq!(first_error_code(&body).as_deref(), Some("FORBIDDEN"));
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("admin role"), "{body}");
}

async fn with_no_tokens_off_loopback_anonymous_callers_may_do_nothing(t: TestDb) {
    let app = app_with(&t, None, None, false);
    assert_eq!(post_graphql(&app, None, WRITE).await.status, 401);
    assert_eq!(post_graphql(&app, None, READ).await.status, 401);
}

async fn every_insert_mutation_needs_the_editor_role(t: TestDb) {
    let app = app_with(&t, Some(ADMIN), Some(API), true);
    for mutation in [
        r#"mutation { insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted } }"#,
        r#"mutation { insertJobs(rows: [{id: 1, job: "Clerk"}]) { inserted } }"#,
        r#"mutation { insertHiredEmployees(rows: [{id: 1, name: "Ada", hireDatetime: "2021-01-01T00:00:00Z", departmentId: 1, jobId: 1}]) { inserted } }"#,
    ] {
        assert_eq!(
            code_of(&app, None, mutation).await.as_deref(),
            Some("FORBIDDEN"),
            "{mutation}"
        );
        assert_eq!(code_of(&app, Some(API), mutation).await, None, "{mutation}");
    }
}

db_tests!(
    anonymous_requests_off_loopback_get_401_by_default,
    anonymous_callers_on_loopback_with_tokens_set_are_analysts,
    the_api_token_grants_writes,
    the_admin_token_grants_writes,
    the_admin_token_grants_admin_operations,
    the_api_token_is_forbidden_admin_operations_naming_the_role_needed,
    an_unknown_token_is_refused_with_401_even_for_reads,
    a_malformed_authorization_header_is_refused_with_401,
    with_no_tokens_on_loopback_anonymous_callers_are_editors,
    with_no_tokens_admin_operations_are_refused_naming_the_admin_role,
    with_no_tokens_off_loopback_anonymous_callers_may_do_nothing,
    every_insert_mutation_needs_the_editor_role,
);
