//! DATABASE_READ_URL: reports and lists read from the replica; writes and
//! admin operations go to the primary. Tested by pointing the read pool at a
//! second database that holds different data, and looking where each answer
//! comes from.

mod common;

use axum::{body::Body, http::Request};
use common::{TestDb, count_rows, generated, load_generated, send};
use hiring_analytics::{AppState, app, auth::Caller, build_schema};
use serde_json::{Value, json};

async fn run(state: &AppState, query: &str) -> Value {
    let response = build_schema(state)
        .execute(async_graphql::Request::new(query).data(Caller::admin()))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

async fn reads_go_to_the_replica_and_writes_to_the_primary(t: TestDb) {
    let replica = TestDb::new(t.backend).await.unwrap();
    load_generated(&replica, generated(200, 5, 2021, 2021)).await;
    // A refused row in the replica's rejected-row log, which admin reads must not see.
    run(
        &replica.local_state(),
        r#"mutation { insertDepartments(rows: [{id: -1, department: "Bad"}]) { inserted } }"#,
    )
    .await;
    assert_eq!(count_rows(&replica.db, "rejected_rows").await, 1);
    let mut state = t.local_state();
    state.read_db = replica.db.clone();

    // Lists, nested lookups and reports come from the replica.
    let data = run(
        &state,
        "{ departments { id } jobs { id }
           hiredEmployees(first: 1) { totalCount nodes { department { id } } }
           hiresByQuarter(year: 2021) { q1 q2 q3 q4 }
           departmentsAboveMean(year: 2021) { year } }",
    )
    .await;
    assert_eq!(data["departments"].as_array().unwrap().len(), 12);
    assert_eq!(data["jobs"].as_array().unwrap().len(), 183);
    assert_eq!(data["hiredEmployees"]["totalCount"], 200);
    assert!(data["hiredEmployees"]["nodes"][0]["department"]["id"].is_number());
    let quarters: i64 = common::quarterly_hires(&data["hiresByQuarter"]);
    assert_eq!(quarters, 200);

    // Writes go to the primary, which the replica does not see.
    let inserted = run(
        &state,
        r#"mutation { insertDepartments(rows: [{id: 500, department: "Primary Only"}]) { inserted } }"#,
    )
    .await;
    assert_eq!(inserted["insertDepartments"]["inserted"], 1);
    assert_eq!(count_rows(&t.db, "departments").await, 1);
    assert_eq!(count_rows(&replica.db, "departments").await, 12);
    // Admin operations use the primary too.
    let rejected = run(&state, "{ rejectedRows { edges { node { code } } } }").await;
    assert_eq!(rejected["rejectedRows"]["edges"], json!([]));

    // The CSV report over HTTP reads the replica as well.
    let router = app(state);
    let csv = send(
        &router,
        Request::get("/reports/hires-by-quarter.csv?year=2021")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text().lines().count() > 1, "{}", csv.text());
    let ready = send(
        &router,
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(ready.status, 200);
}

db_tests!(reads_go_to_the_replica_and_writes_to_the_primary);
