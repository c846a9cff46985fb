//! What browser apps on other origins need: CORS for the listed origins only,
//! and compressed responses.

mod common;

use std::io::Read;

use axum::{
    Router,
    body::Body,
    http::{Request, header},
};
use common::{TestDb, TestResponse, binary, send};
use hiring_analytics::{app, http::cors::CorsOrigins};

const APP_ORIGIN: &str = "http://localhost:5173";

fn router_with_origins(t: &TestDb, origins: &str) -> Router {
    let mut state = t.local_state();
    state.cors_origins = origins.parse::<CorsOrigins>().unwrap();
    app(state)
}

async fn preflight(router: &Router, origin: &str) -> TestResponse {
    let request = Request::options("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,authorization,x-request-id",
        )
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

async fn query_from(router: &Router, origin: &str) -> TestResponse {
    let request = Request::post("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"query":"{ departments { id } }"}"#))
        .unwrap();
    send(router, request).await
}

fn header<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).map(|v| v.to_str().unwrap())
}

async fn a_listed_origin_gets_preflight_and_cors_headers_and_others_get_none(t: TestDb) {
    let router = router_with_origins(&t, &format!("https://app.example.com, {APP_ORIGIN}"));
    let allowed = preflight(&router, APP_ORIGIN).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap();
    for name in ["content-type", "authorization", "x-request-id"] {
        assert!(headers.contains(name), "{headers}");
    }
    assert_eq!(header(&allowed, "access-control-max-age"), Some("600"));
    assert!(header(&allowed, "vary").unwrap().contains("origin"));
    assert_eq!(header(&allowed, "access-control-allow-credentials"), None);

    let answered = query_from(&router, APP_ORIGIN).await;
    assert_eq!(answered.status, 200);
    assert_eq!(
        header(&answered, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        header(&answered, "access-control-expose-headers"),
        Some("x-request-id")
    );

    for stranger in ["https://evil.example", "http://localhost:5174"] {
        let refused = preflight(&router, stranger).await;
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
        let unread = query_from(&router, stranger).await;
        assert_eq!(header(&unread, "access-control-allow-origin"), None);
    }
}

async fn without_cors_origins_no_cors_header_is_sent(t: TestDb) {
    let router = app(t.local_state());
    for response in [
        preflight(&router, APP_ORIGIN).await,
        query_from(&router, APP_ORIGIN).await,
    ] {
        let cors: Vec<_> = response
            .headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{cors:?}");
    }
}

#[test]
fn a_cors_origin_that_is_not_an_exact_origin_stops_serve_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (value, reason) in [
        ("*", "any origin (*) is not allowed"),
        ("https://app.example.com/", "no path"),
        ("app.example.com", "no scheme"),
    ] {
        let output = binary()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", "sqlite::memory:")
            .env("CORS_ORIGINS", value)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{value}: {stderr}");
    }
}

/// POSTs the full quarterly report of 2021 with `Accept-Encoding: encoding`.
async fn report(router: &Router, encoding: Option<&str>) -> TestResponse {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(encoding) = encoding {
        request = request.header(header::ACCEPT_ENCODING, encoding);
    }
    let body = r#"{"query":"{ hiresByQuarter(year: 2021) { departmentId department jobId job q1 q2 q3 q4 total asOf } }"}"#;
    send(router, request.body(Body::from(body)).unwrap()).await
}

async fn reports_are_compressed_as_the_client_prefers_and_decode_to_the_same_answer(t: TestDb) {
    common::load_generated(&t, common::generated(20_000, 5, 2021, 2021)).await;
    let router = app(t.local_state());
    let plain = report(&router, None).await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert!(plain.body.len() > 50_000, "{}", plain.body.len());

    let brotli = report(&router, Some("br")).await;
    assert_eq!(header(&brotli, "content-encoding"), Some("br"));
    assert!(
        brotli.body.len() * 8 <= plain.body.len(),
        "br: {} of {} bytes",
        brotli.body.len(),
        plain.body.len()
    );
    assert!(header(&brotli, "vary").unwrap().contains("accept-encoding"));

    let gzip = report(&router, Some("gzip;q=0.5, br;q=0.1")).await;
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gzip.body.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain.body);

    // A small answer is not worth compressing.
    let small = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_ENCODING, "br, gzip")
        .body(Body::from(r#"{"query":"{ __typename }"}"#))
        .unwrap();
    assert_eq!(
        header(&send(&router, small).await, "content-encoding"),
        None
    );
}

db_tests!(
    a_listed_origin_gets_preflight_and_cors_headers_and_others_get_none,
    without_cors_origins_no_cors_header_is_sent,
    reports_are_compressed_as_the_client_prefers_and_decode_to_the_same_answer,
);
