//! The HTTP surface through `app().oneshot()`, on SQLite and PostgreSQL.

mod common;

use axum::{body::Body, http::Request};
use common::{TestDb, first_error_code, post_graphql, send};
use hiring_analytics::app;
use http_body_util::StreamBody;
use serde_json::json;

async fn healthz_answers_ok(t: TestDb) {
    let app = app(t.local_state());
    let response = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"status": "ok"}));
}

async fn readyz_answers_ok_while_the_database_answers(t: TestDb) {
    let app = app(t.local_state());
    let response = send(&app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ready");
}

async fn readyz_answers_503_when_the_database_is_gone(t: TestDb) {
    let app = app(t.local_state());
    t.db.close_by_ref().await.expect("close pool");
    let response = send(&app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["status"], "unavailable");
    // The process itself is still up.
    let response = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 200);
}

async fn get_graphql_without_a_query_serves_the_playground(t: TestDb) {
    let app = app(t.local_state());
    let response = send(&app, Request::get("/graphql").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 200);
    assert!(
        response.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(response.text().contains("graphiql"), "{}", response.text());
}

async fn the_playground_loads_only_assets_built_into_the_server(t: TestDb) {
    let app = app(t.local_state());
    let page = send(&app, Request::get("/graphql").body(Body::empty()).unwrap()).await;
    let html = page.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/assets/graphiql/"))
        .collect();
    assert_eq!(assets.len(), 4, "{html}");
    for path in assets {
        let plain = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(plain.status, 200, "{path}");
        assert!(plain.body.len() > 1000, "{path}");
        assert!(
            plain.headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age=31536000")
        );
        let gzipped = send(
            &app,
            Request::get(path)
                .header("accept-encoding", "br, gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(gzipped.headers["content-encoding"], "gzip");
        assert!(gzipped.body.len() < plain.body.len());
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzipped.body[..]),
            &mut unzipped,
        )
        .unwrap();
        assert!(
            unzipped == plain.body,
            "{path} decompresses to the original"
        );
    }
    let missing = send(
        &app,
        Request::get("/assets/graphiql/0.0.0/graphiql.min.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 404);
}

async fn the_playground_can_load_from_a_cdn_instead(t: TestDb) {
    let mut state = t.local_state();
    state.playground_cdn = true;
    let page = send(
        &app(state),
        Request::get("/graphql").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(page.text().contains("https://"));
}

async fn get_graphql_with_a_query_executes_it(t: TestDb) {
    let app = app(t.local_state());
    common::seed_small(&app, None).await;
    let uri = "/graphql?query=%7B%20departments%20%7B%20id%20department%20%7D%20%7D";
    let response = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json()["data"]["departments"],
        json!([{"id": 1, "department": "Sales"}, {"id": 2, "department": "Engineering"}])
    );
}

async fn get_graphql_refuses_mutations(t: TestDb) {
    let app = app(t.local_state());
    let uri = "/graphql?query=mutation%7BinsertDepartments(rows%3A%5B%7Bid%3A1%2Cdepartment%3A%22X%22%7D%5D)%7Binserted%7D%7D";
    let response = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 405);
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("METHOD_NOT_ALLOWED")
    );
    let listed = post_graphql(&app, None, "{ departments { id } }")
        .await
        .json();
    assert_eq!(listed["data"]["departments"], json!([]));
}

async fn post_graphql_answers_queries(t: TestDb) {
    let app = app(t.local_state());
    let response = post_graphql(&app, None, "{ departments { id } }").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({"data": {"departments": []}}));
}

async fn a_body_over_the_limit_gets_413(t: TestDb) {
    let mut state = t.local_state();
    state.body_limit = 1024;
    let app = app(state);
    let padding = " ".repeat(2048);
    let body = format!(r#"{{"query": "{{ departments {{ id }} }}{padding}"}}"#);
    let response = send(
        &app,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 413);
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("PAYLOAD_TOO_LARGE")
    );
}

async fn a_streamed_body_over_the_limit_gets_413(t: TestDb) {
    let mut state = t.local_state();
    state.body_limit = 1024;
    let app = app(state);
    // No Content-Length: the server must stop reading once the limit is passed.
    let chunks = (0..64).map(|_| {
        Ok::<_, std::io::Error>(http_body::Frame::data(bytes::Bytes::from(vec![b' '; 64])))
    });
    let body = Body::new(StreamBody::new(futures_util::stream::iter(chunks)));
    let response = send(
        &app,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(body)
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 413);
}

async fn a_body_within_the_limit_is_accepted(t: TestDb) {
    let mut state = t.local_state();
    state.body_limit = 1024;
    let app = app(state);
    let response = post_graphql(&app, None, "{ departments { id } }").await;
    assert_eq!(response.status, 200);
}

async fn malformed_json_gets_a_clear_400(t: TestDb) {
    let app = app(t.local_state());
    let response = send(
        &app,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 400);
    let body = response.json();
    assert_eq!(first_error_code(&body).as_deref(), Some("BAD_REQUEST"));
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a valid GraphQL request")
    );
}

async fn an_unknown_path_gets_404_json(t: TestDb) {
    let app = app(t.local_state());
    let response = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status, 404);
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("NOT_FOUND")
    );
}

db_tests!(
    healthz_answers_ok,
    readyz_answers_ok_while_the_database_answers,
    readyz_answers_503_when_the_database_is_gone,
    get_graphql_without_a_query_serves_the_playground,
    get_graphql_with_a_query_executes_it,
    the_playground_loads_only_assets_built_into_the_server,
    the_playground_can_load_from_a_cdn_instead,
    get_graphql_refuses_mutations,
    post_graphql_answers_queries,
    a_body_over_the_limit_gets_413,
    a_streamed_body_over_the_limit_gets_413,
    a_body_within_the_limit_is_accepted,
    malformed_json_gets_a_clear_400,
    an_unknown_path_gets_404_json,
);
