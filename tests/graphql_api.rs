//! The GraphQL API through `schema.execute()`, on SQLite and PostgreSQL.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_graphql::Request;
use common::TestDb;
use hiring_analytics::{AppState, QueryLimits, auth::AccessPolicy, build_schema};
use serde_json::{Value, json};

async fn run(state: &AppState, query: &str) -> Value {
    let response = build_schema(state).execute(Request::new(query)).await;
    serde_json::to_value(response).expect("serialisable response")
}

async fn seed(state: &AppState) {
    let response = run(
        state,
        r#"mutation {
            insertDepartments(rows: [{id: 1, department: "Sales"}, {id: 2, department: "Engineering"}]) { inserted }
            insertJobs(rows: [{id: 10, job: "Account Executive"}, {id: 20, job: "Software Engineer"}]) { inserted }
        }"#,
    )
    .await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let response = run(
        state,
        r#"mutation {
            insertHiredEmployees(rows: [
                {id: 1, name: "Ada", hireDatetime: "2021-01-15T09:30:00Z", departmentId: 2, jobId: 20},
                {id: 2, name: "Bob", hireDatetime: "2021-04-01T02:00:00+02:00", departmentId: 1, jobId: 10},
                {id: 3, name: "Cy", hireDatetime: "2021-07-20T17:45:12.345678Z", departmentId: 2, jobId: 20}
            ]) { inserted }
        }"#,
    )
    .await;
    assert_eq!(
        response["data"]["insertHiredEmployees"]["inserted"], 3,
        "{response}"
    );
}

async fn departments_and_jobs_are_listed_by_id(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let response = run(&state, "{ departments { id department } jobs { id job } }").await;
    assert_eq!(
        response["data"],
        json!({
            "departments": [{"id": 1, "department": "Sales"}, {"id": 2, "department": "Engineering"}],
            "jobs": [{"id": 10, "job": "Account Executive"}, {"id": 20, "job": "Software Engineer"}]
        })
    );
}

async fn single_lookups_return_the_row_or_null(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let response = run(
        &state,
        "{ department(id: 2) { department } job(id: 10) { job } missingDepartment: department(id: 99) { id } missingJob: job(id: 99) { id } missingHire: hiredEmployee(id: 99) { id } }",
    )
    .await;
    assert_eq!(
        response["data"],
        json!({
            "department": {"department": "Engineering"},
            "job": {"job": "Account Executive"},
            "missingDepartment": null,
            "missingJob": null,
            "missingHire": null
        })
    );
}

async fn a_hire_resolves_its_department_and_job(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let response = run(
        &state,
        "{ hiredEmployee(id: 1) { id name hireDatetime departmentId jobId department { id department } job { id job } } }",
    )
    .await;
    assert_eq!(
        response["data"]["hiredEmployee"],
        json!({
            "id": 1, "name": "Ada", "hireDatetime": "2021-01-15T09:30:00Z",
            "departmentId": 2, "jobId": 20,
            "department": {"id": 2, "department": "Engineering"},
            "job": {"id": 20, "job": "Software Engineer"}
        })
    );
}

async fn timestamps_round_trip_exactly_in_utc(t: TestDb) {
    let state = t.local_state();
    seed(&state).await;
    let response = run(
        &state,
        "{ a: hiredEmployee(id: 2) { hireDatetime } b: hiredEmployee(id: 3) { hireDatetime } }",
    )
    .await;
    // An explicit offset is converted to UTC; microseconds survive on both backends.
    assert_eq!(
        response["data"]["a"]["hireDatetime"],
        "2021-04-01T00:00:00Z"
    );
    assert_eq!(
        response["data"]["b"]["hireDatetime"],
        "2021-07-20T17:45:12.345678Z"
    );
}

async fn a_list_of_hires_costs_a_fixed_number_of_statements(t: TestDb) {
    let statements = Arc::new(AtomicUsize::new(0));
    let mut db = t.db.clone();
    let counter = Arc::clone(&statements);
    db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    seed(&t.local_state()).await;
    let state = AppState::new(db, AccessPolicy::new(None, None, true));
    let page = |first: u32| {
        format!(
            "{{ hiredEmployees(first: {first}) {{ nodes {{ name department {{ department }} job {{ job }} }} }} }}"
        )
    };
    let response = run(&state, &page(1)).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let for_one = statements.swap(0, Ordering::SeqCst);
    let response = run(&state, &page(3)).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    let for_three = statements.swap(0, Ordering::SeqCst);
    assert_eq!(
        response["data"]["hiredEmployees"]["nodes"][2]["department"]["department"],
        "Engineering"
    );
    // One statement, whatever the page size: the names come with the page (a join).
    assert_eq!(for_one, for_three);
    let response = run(&state, "{ hiredEmployees(first: 3) { nodes { name } } }").await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    assert_eq!(for_three, statements.swap(0, Ordering::SeqCst));
}

async fn a_query_deeper_than_the_limit_is_refused_with_a_code(t: TestDb) {
    let mut state = t.local_state();
    state.query_limits = QueryLimits {
        max_depth: 2,
        max_complexity: 1_000,
    };
    let response = run(&state, "{ hiredEmployee(id: 1) { department { id } } }").await;
    assert_eq!(response["data"], Value::Null);
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "QUERY_TOO_DEEP"
    );
    let response = run(&state, "{ hiredEmployee(id: 1) { id } }").await;
    assert_eq!(response["errors"], Value::Null, "{response}");
}

async fn a_query_more_complex_than_the_limit_is_refused_with_a_code(t: TestDb) {
    let mut state = t.local_state();
    state.query_limits = QueryLimits {
        max_depth: 16,
        max_complexity: 5,
    };
    let response = run(
        &state,
        "{ a: departments { id department } b: jobs { id job } }",
    )
    .await;
    assert_eq!(response["data"], Value::Null);
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    let response = run(&state, "{ departments { id } }").await;
    assert_eq!(response["errors"], Value::Null, "{response}");
}

async fn the_playground_introspection_query_fits_the_default_limits(t: TestDb) {
    let state = t.local_state();
    let query = include_str!("fixtures/introspection.graphql");
    let response = run(&state, query).await;
    assert_eq!(response["errors"], Value::Null, "{response}");
    assert_eq!(
        response["data"]["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
}

async fn syntax_and_validation_errors_carry_codes(t: TestDb) {
    let state = t.local_state();
    let response = run(&state, "{ departments { id ").await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    let response = run(&state, "{ departments { salary } }").await;
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

async fn internal_errors_hide_their_cause(t: TestDb) {
    let state = t.local_state();
    t.db.close_by_ref().await.expect("close pool");
    let response = run(&state, "{ departments { id } }").await;
    let error = &response["errors"][0];
    let code = error["extensions"]["code"].as_str().unwrap();
    assert!(
        code == "DATABASE_UNAVAILABLE" || code == "INTERNAL_SERVER_ERROR",
        "{response}"
    );
    let message = error["message"].as_str().unwrap().to_lowercase();
    assert!(
        !message.contains("sql") && !message.contains("pool"),
        "{message}"
    );
}

db_tests!(
    departments_and_jobs_are_listed_by_id,
    single_lookups_return_the_row_or_null,
    a_hire_resolves_its_department_and_job,
    timestamps_round_trip_exactly_in_utc,
    a_list_of_hires_costs_a_fixed_number_of_statements,
    a_query_deeper_than_the_limit_is_refused_with_a_code,
    a_query_more_complex_than_the_limit_is_refused_with_a_code,
    the_playground_introspection_query_fits_the_default_limits,
    syntax_and_validation_errors_carry_codes,
    internal_errors_hide_their_cause,
);
