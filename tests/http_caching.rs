//! HTTP caching from the data version: ETags, 304 Not Modified, the report
//! response cache, and the CSV exports.

mod common;

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, header},
};
use common::{TestDb, TestResponse, seed_small, send};
use hiring_analytics::{app, auth::AccessPolicy};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;

const REPORT: &str = "{ hiresByQuarter(year: 2021) { department job q1 q2 q3 q4 } }";
const ADMIN: &str = "admin-token-for-caching-tests-01";

/// The query `query` over `method`, with `If-None-Match: etag` when given.
async fn ask(
    router: &Router,
    method: Method,
    query: &str,
    etag: Option<&str>,
    token: Option<&str>,
) -> TestResponse {
    let body = serde_json::json!({ "query": query });
    let mut request = match method {
        Method::GET => {
            let encoded: String = query
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            Request::get(format!("/graphql?query={encoded}"))
        }
        _ => Request::post("/graphql").header(header::CONTENT_TYPE, "application/json"),
    };
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match method {
        Method::GET => Body::empty(),
        _ => Body::from(body.to_string()),
    };
    send(router, request.body(body).unwrap()).await
}

fn etag_of(response: &TestResponse) -> String {
    response
        .headers
        .get(header::ETAG)
        .unwrap_or_else(|| panic!("no ETag: {:?}", response.headers))
        .to_str()
        .unwrap()
        .to_owned()
}

fn cache_control(response: &TestResponse) -> &str {
    response.headers[header::CACHE_CONTROL].to_str().unwrap()
}

async fn insert_one_hire(router: &Router, id: i32) {
    let insert = format!(
        r#"mutation {{ insertHiredEmployees(rows: [{{id: {id}, name: "Late Hire", hireDatetime: "2021-05-05T10:00:00Z", departmentId: 1, jobId: 10}}]) {{ inserted }} }}"#
    );
    let response = ask(router, Method::POST, &insert, None, None).await;
    assert_eq!(
        response.json()["data"]["insertHiredEmployees"]["inserted"],
        1,
        "{}",
        response.text()
    );
}

async fn a_report_revalidates_with_304_until_an_insert_changes_it(t: TestDb) {
    let router = app(t.local_state());
    seed_small(&router, None).await;
    for method in [Method::GET, Method::POST] {
        let first = ask(&router, method.clone(), REPORT, None, None).await;
        assert_eq!(first.status, 200, "{}", first.text());
        assert_eq!(cache_control(&first), "private, no-cache");
        let etag = etag_of(&first);
        assert!(etag.starts_with('"') && etag.len() > 20, "{etag}");

        let again = ask(&router, method.clone(), REPORT, Some(&etag), None).await;
        assert_eq!(again.status, 304, "{method}");
        assert!(again.body.is_empty());
        assert_eq!(etag_of(&again), etag);

        insert_one_hire(&router, 9000 + i32::from(method == Method::POST)).await;
        let changed = ask(&router, method.clone(), REPORT, Some(&etag), None).await;
        assert_eq!(changed.status, 200, "{method}");
        assert_ne!(etag_of(&changed), etag);
        assert_ne!(changed.body, first.body);
    }
}

async fn a_commit_stamped_earlier_than_the_last_one_still_moves_the_etag(t: TestDb) {
    let router = app(t.local_state());
    seed_small(&router, None).await;
    let etag = etag_of(&ask(&router, Method::POST, REPORT, None, None).await);
    // A slow writer: its rows carry a stamp older than asOf when they commit.
    for sql in [
        "INSERT INTO hired_employees (id, name, hire_datetime, department_id, job_id)
         VALUES (7777, 'Slow Writer', '2021-02-02T00:00:00Z', 1, 10)",
        "INSERT INTO hires_rollup_delta (year, department_id, job_id, m2, changed_at)
         VALUES (2021, 1, 10, 1, '2000-01-01T00:00:00Z')",
    ] {
        t.db.execute_unprepared(sql).await.unwrap();
    }
    let after = ask(&router, Method::POST, REPORT, Some(&etag), None).await;
    assert_eq!(after.status, 200);
    assert_ne!(etag_of(&after), etag);
}

async fn inserting_departments_or_jobs_moves_the_etag_of_their_lists(t: TestDb) {
    let router = app(t.local_state());
    seed_small(&router, None).await;
    let lists = "{ departments { id department } jobs { id job } }";
    let etag = etag_of(&ask(&router, Method::GET, lists, None, None).await);
    assert_eq!(
        ask(&router, Method::GET, lists, Some(&etag), None)
            .await
            .status,
        304
    );
    let insert =
        r#"mutation { insertDepartments(rows: [{id: 77, department: "Legal"}]) { inserted } }"#;
    ask(&router, Method::POST, insert, None, None).await;
    let after = ask(&router, Method::GET, lists, Some(&etag), None).await;
    assert_eq!(after.status, 200);
    assert!(after.text().contains("Legal"));
    let etag = etag_of(&after);
    let insert = r#"mutation { insertJobs(rows: [{id: 77, job: "Counsel"}]) { inserted } }"#;
    ask(&router, Method::POST, insert, None, None).await;
    let after = ask(&router, Method::GET, lists, Some(&etag), None).await;
    assert_eq!(after.status, 200);
    assert!(after.text().contains("Counsel"));
}

async fn etags_differ_between_callers_and_media_types(t: TestDb) {
    let mut state = t.local_state();
    let admin = SecretString::from(ADMIN.to_owned());
    state.policy = Arc::new(AccessPolicy::new(Some(&admin), None, true));
    let router = app(state);
    seed_small(&router, Some(ADMIN)).await;
    let anonymous = etag_of(&ask(&router, Method::POST, REPORT, None, None).await);
    let as_admin = ask(&router, Method::POST, REPORT, None, Some(ADMIN)).await;
    assert_ne!(etag_of(&as_admin), anonymous);
    let cross = ask(&router, Method::POST, REPORT, Some(&anonymous), Some(ADMIN)).await;
    assert_eq!(cross.status, 200);
    let strict = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/graphql-response+json")
        .header(header::IF_NONE_MATCH, &anonymous)
        .body(Body::from(
            serde_json::json!({ "query": REPORT }).to_string(),
        ))
        .unwrap();
    let strict = send(&router, strict).await;
    assert_eq!(strict.status, 200);
    assert_ne!(etag_of(&strict), anonymous);
}

async fn answers_that_depend_on_more_than_the_data_are_never_cached(t: TestDb) {
    let mut state = t.local_state();
    let admin = SecretString::from(ADMIN.to_owned());
    state.policy = Arc::new(AccessPolicy::new(Some(&admin), None, true));
    let router = app(state);
    let log = "{ rejectedRows(first: 5) { edges { cursor } } }";
    let response = ask(&router, Method::POST, log, None, Some(ADMIN)).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.headers.get(header::ETAG).is_none());
    assert_eq!(cache_control(&response), "no-store");
    let mixed = "{ departments { id } rejectedRows(first: 1) { edges { cursor } } }";
    let response = ask(&router, Method::POST, mixed, None, Some(ADMIN)).await;
    assert!(response.headers.get(header::ETAG).is_none());
    let insert =
        r#"mutation { insertDepartments(rows: [{id: 5, department: "Ops"}]) { inserted } }"#;
    let response = ask(&router, Method::POST, insert, None, Some(ADMIN)).await;
    assert_eq!(cache_control(&response), "no-store");
}

async fn a_wall_of_identical_report_requests_computes_the_report_once(t: TestDb) {
    let router = app(t.local_state());
    seed_small(&router, None).await;
    let mut asking = Vec::new();
    for _ in 0..12 {
        let router = router.clone();
        asking.push(tokio::spawn(async move {
            ask(&router, Method::POST, REPORT, None, None).await
        }));
    }
    let mut bodies = Vec::new();
    for task in asking {
        let response = task.await.unwrap();
        assert_eq!(response.status, 200);
        bodies.push(response.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let metrics = send(
        &router,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await
    .text();
    let count = |result: &str| {
        let prefix =
            format!("hiring_analytics_response_cache_requests_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {result} count in\n{metrics}"))
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(count("miss"), 1);
    assert_eq!(count("hit"), 11);
}

async fn csv_exports_revalidate_with_their_etag(t: TestDb) {
    let router = app(t.local_state());
    seed_small(&router, None).await;
    let csv = |etag: Option<String>| {
        let mut request = Request::get("/reports/hires-by-quarter.csv?year=2021");
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        request.body(Body::empty()).unwrap()
    };
    let first = send(&router, csv(None)).await;
    assert_eq!(first.status, 200);
    let etag = etag_of(&first);
    assert_eq!(send(&router, csv(Some(etag.clone()))).await.status, 304);
    insert_one_hire(&router, 9100).await;
    let after = send(&router, csv(Some(etag.clone()))).await;
    assert_eq!(after.status, 200);
    assert_ne!(etag_of(&after), etag);
    let other_year = send(
        &router,
        Request::get("/reports/hires-by-quarter.csv?year=2020")
            .header(header::IF_NONE_MATCH, etag_of(&after))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(other_year.status, 200);
}

async fn cache_max_age_lets_clients_reuse_answers_without_asking(t: TestDb) {
    let mut state = t.local_state();
    state.cache_max_age = 30;
    let router = app(state);
    let response = ask(&router, Method::GET, "{ departments { id } }", None, None).await;
    assert_eq!(cache_control(&response), "private, max-age=30");
}

db_tests!(
    a_report_revalidates_with_304_until_an_insert_changes_it,
    a_commit_stamped_earlier_than_the_last_one_still_moves_the_etag,
    inserting_departments_or_jobs_moves_the_etag_of_their_lists,
    etags_differ_between_callers_and_media_types,
    answers_that_depend_on_more_than_the_data_are_never_cached,
    a_wall_of_identical_report_requests_computes_the_report_once,
    csv_exports_revalidate_with_their_etag,
    cache_max_age_lets_clients_reuse_answers_without_asking,
);
