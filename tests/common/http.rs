//! HTTP through the router, as a client would: requests, responses, GraphQL
//! posts, error codes and a small seed.

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A response as tests look at it.
pub struct TestResponse {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request through the router, as a client would.
pub async fn send(app: &Router, request: Request<Body>) -> TestResponse {
    let response = app.clone().oneshot(request).await.expect("router answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    TestResponse {
        status,
        headers,
        body,
    }
}

/// POSTs a GraphQL query with an optional bearer token.
pub async fn post_graphql(app: &Router, token: Option<&str>, query: &str) -> TestResponse {
    let mut builder = Request::post("/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = serde_json::json!({ "query": query }).to_string();
    send(app, builder.body(Body::from(body)).unwrap()).await
}

/// The `extensions.code` of the first error, if any.
pub fn first_error_code(response: &Value) -> Option<String> {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

/// Seeds two departments, two jobs and three hires through the public mutation.
pub async fn seed_small(app: &Router, token: Option<&str>) {
    let response = post_graphql(
        app,
        token,
        r#"mutation {
            insertDepartments(rows: [{id: 1, department: "Sales"}, {id: 2, department: "Engineering"}]) { inserted }
            insertJobs(rows: [{id: 10, job: "Account Executive"}, {id: 20, job: "Software Engineer"}]) { inserted }
        }"#,
    )
    .await
    .json();
    assert_eq!(response["errors"], Value::Null, "{response}");
    let response = post_graphql(
        app,
        token,
        r#"mutation {
            insertHiredEmployees(rows: [
                {id: 1, name: "Ada", hireDatetime: "2021-01-15T09:30:00Z", departmentId: 2, jobId: 20},
                {id: 2, name: "Bob", hireDatetime: "2021-04-01T00:00:00Z", departmentId: 1, jobId: 10},
                {id: 3, name: "Cy", hireDatetime: "2021-07-20T17:45:12.345678Z", departmentId: 2, jobId: 20}
            ]) { inserted rejected { code } }
        }"#,
    )
    .await
    .json();
    assert_eq!(
        response["data"]["insertHiredEmployees"]["inserted"], 3,
        "{response}"
    );
}
