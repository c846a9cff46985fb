//! Insert mutations, `importCsv` and the rejected-row log over GraphQL, on SQLite and PostgreSQL.

mod common;

use async_graphql::{Request, Variables};
use axum::{body::Body, http::Request as HttpRequest};
use common::{TestDb, count_rows, first_error_code, post_graphql, send};
use hiring_analytics::{AppState, app, auth::AccessPolicy, build_schema};
use secrecy::SecretString;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-ingest-tests";

async fn run(state: &AppState, query: &str) -> Value {
    let response = build_schema(state).execute(Request::new(query)).await;
    serde_json::to_value(response).unwrap()
}

async fn run_with(state: &AppState, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(Variables::from_json(variables));
    serde_json::to_value(build_schema(state).execute(request).await).unwrap()
}

const INSERT_HIRES: &str = "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted unchanged rejected { index id field code message } } }";
const INSERT_DEPARTMENTS: &str = "mutation($rows: [DepartmentInput!]!) { insertDepartments(rows: $rows) { inserted unchanged rejected { index id field code message } } }";

fn hire(id: i32, name: &str, at: &str, department: i32, job: i32) -> Value {
    json!({"id": id, "name": name, "hireDatetime": at, "departmentId": department, "jobId": job})
}

async fn seed_dimensions(state: &AppState) {
    let response = run(
        state,
        r#"mutation {
            insertDepartments(rows: [{id: 1, department: "Sales"}]) { inserted }
            insertJobs(rows: [{id: 1, job: "Clerk"}, {id: 2, job: "Manager"}]) { inserted }
        }"#,
    )
    .await;
    assert_eq!(response["errors"], Value::Null, "{response}");
}

async fn an_empty_batch_is_refused_whole(t: TestDb) {
    let state = t.local_state();
    let response = run_with(&state, INSERT_DEPARTMENTS, json!({"rows": []})).await;
    assert_eq!(first_error_code(&response).as_deref(), Some("BATCH_SIZE"));
}

async fn a_batch_over_1000_rows_is_refused_whole(t: TestDb) {
    let state = t.local_state();
    let rows: Vec<Value> = (1..=1001)
        .map(|id| json!({"id": id, "department": format!("Department {id}")}))
        .collect();
    let response = run_with(&state, INSERT_DEPARTMENTS, json!({ "rows": rows })).await;
    assert_eq!(first_error_code(&response).as_deref(), Some("BATCH_SIZE"));
    assert_eq!(count_rows(&t.db, "departments").await, 0);
    let rows: Vec<Value> = (1..=1000)
        .map(|id| json!({"id": id, "department": format!("Department {id}")}))
        .collect();
    let response = run_with(&state, INSERT_DEPARTMENTS, json!({ "rows": rows })).await;
    assert_eq!(
        response["data"]["insertDepartments"]["inserted"], 1000,
        "{response}"
    );
}

async fn a_mixed_batch_stores_the_valid_rows_and_reports_the_rest(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    let rows = json!([
        hire(1, "Ada", "2021-01-01T00:00:00Z", 1, 1),
        hire(2, " ", "2021-01-01T00:00:00Z", 1, 1),
        hire(3, "Cy", "yesterday", 1, 1),
        hire(4, "Di", "2021-01-01T00:00:00Z", 7, 1),
        hire(5, "Ed", "2021-01-01T00:00:00Z", 1, 7),
        hire(-6, "Fa", "2021-01-01T00:00:00Z", 1, 1),
        hire(7, &"x".repeat(256), "2021-01-01T00:00:00Z", 1, 1),
        hire(8, "Gu", "2021-03-01T10:00:00-05:00", 1, 2),
    ]);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": rows })).await;
    let report = &response["data"]["insertHiredEmployees"];
    assert_eq!(report["inserted"], 2, "{response}");
    let codes: Vec<(i64, String, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["field"].as_str().unwrap_or("").to_owned(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "name".into(), "MISSING_FIELD".into()),
            (2, "hireDatetime".into(), "INVALID_DATETIME".into()),
            (3, "departmentId".into(), "UNKNOWN_DEPARTMENT".into()),
            (4, "jobId".into(), "UNKNOWN_JOB".into()),
            (5, "id".into(), "INVALID_ID".into()),
            (6, "name".into(), "NAME_TOO_LONG".into()),
        ]
    );
    assert_eq!(count_rows(&t.db, "hired_employees").await, 2);
    let logged = common::rejected_rows(&t.db).await;
    assert_eq!(logged.len(), 6);
    assert!(logged.iter().all(|r| r.0 == "graphql:insertHiredEmployees"));
    let stored = run(&state, "{ hiredEmployee(id: 8) { hireDatetime } }").await;
    assert_eq!(
        stored["data"]["hiredEmployee"]["hireDatetime"],
        "2021-03-01T15:00:00Z"
    );
}

async fn duplicate_ids_within_one_batch_are_unchanged_or_refused(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    let rows = json!([
        hire(1, "Ada", "2021-01-01T00:00:00Z", 1, 1),
        hire(1, "Ada", "2021-01-01T00:00:00Z", 1, 1),
        hire(1, "Ada B", "2021-01-01T00:00:00Z", 1, 1),
    ]);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": rows })).await;
    let report = &response["data"]["insertHiredEmployees"];
    assert_eq!(report["inserted"], 1, "{response}");
    assert_eq!(report["unchanged"], 1);
    assert_eq!(report["rejected"][0]["code"], "DUPLICATE_ID");
    assert_eq!(report["rejected"][0]["index"], 2);

    // Sending the same row again later changes nothing; different content is refused.
    let again = json!([
        hire(1, "Ada", "2021-01-01T00:00:00Z", 1, 1),
        hire(1, "Ada", "2022-01-01T00:00:00Z", 1, 1)
    ]);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": again })).await;
    let report = &response["data"]["insertHiredEmployees"];
    assert_eq!(
        (report["inserted"].clone(), report["unchanged"].clone()),
        (0.into(), 1.into())
    );
    assert_eq!(report["rejected"][0]["code"], "DUPLICATE_ID");
    let stored = run(&state, "{ hiredEmployee(id: 1) { name hireDatetime } }").await;
    assert_eq!(
        stored["data"]["hiredEmployee"],
        json!({"name": "Ada", "hireDatetime": "2021-01-01T00:00:00Z"})
    );
}

async fn department_names_must_be_unique(t: TestDb) {
    let state = t.local_state();
    let rows = json!([
        {"id": 1, "department": "Sales"},
        {"id": 2, "department": "Sales"},
        {"id": 1, "department": "Legal"},
    ]);
    let response = run_with(&state, INSERT_DEPARTMENTS, json!({ "rows": rows })).await;
    let report = &response["data"]["insertDepartments"];
    assert_eq!(report["inserted"], 1);
    let codes: Vec<&str> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["DUPLICATE_NAME", "DUPLICATE_ID"]);
}

async fn a_hire_may_refer_to_a_department_inserted_in_an_earlier_batch(t: TestDb) {
    let state = t.local_state();
    let rows = json!([hire(1, "Ada", "2021-01-01T00:00:00Z", 5, 9)]);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": rows.clone() })).await;
    assert_eq!(
        response["data"]["insertHiredEmployees"]["rejected"][0]["code"],
        "UNKNOWN_DEPARTMENT"
    );
    let response = run(
        &state,
        r#"mutation { insertDepartments(rows: [{id: 5, department: "Legal"}]) { inserted } insertJobs(rows: [{id: 9, job: "Counsel"}]) { inserted } }"#,
    )
    .await;
    assert_eq!(response["errors"], Value::Null);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": rows })).await;
    assert_eq!(
        response["data"]["insertHiredEmployees"]["inserted"], 1,
        "{response}"
    );
}

async fn the_rejected_row_log_pages_newest_first(t: TestDb) {
    let admin = SecretString::from(ADMIN.to_owned());
    let state = t.state(AccessPolicy::new(Some(&admin), None, true));
    let http = app(state);
    let rows: Vec<Value> = (1..=5)
        .map(|i| json!({"id": i, "department": " "}))
        .collect();
    let body = json!({"query": INSERT_DEPARTMENTS, "variables": {"rows": rows}}).to_string();
    let response = send(
        &http,
        HttpRequest::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {ADMIN}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
    .json();
    assert_eq!(
        response["data"]["insertDepartments"]["rejected"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let page = |after: Option<String>| {
        let http = http.clone();
        async move {
            let after = after
                .map(|c| format!(", after: \"{c}\""))
                .unwrap_or_default();
            let query = format!(
                "{{ rejectedRows(source: \"graphql:insertDepartments\", first: 2{after}) {{ edges {{ cursor node {{ position code }} }} pageInfo {{ hasNextPage }} }} }}"
            );
            post_graphql(&http, Some(ADMIN), &query).await.json()
        }
    };
    let first = page(None).await;
    let positions = |body: &Value| -> Vec<i64> {
        body["data"]["rejectedRows"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["position"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(positions(&first), [4, 3], "{first}");
    assert_eq!(
        first["data"]["rejectedRows"]["pageInfo"]["hasNextPage"],
        true
    );
    let cursor = first["data"]["rejectedRows"]["edges"][1]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = page(Some(cursor)).await;
    assert_eq!(positions(&second), [2, 1]);
    let too_big = post_graphql(
        &http,
        Some(ADMIN),
        "{ rejectedRows(first: 501) { edges { cursor } } }",
    )
    .await
    .json();
    assert_eq!(first_error_code(&too_big).as_deref(), Some("PAGE_SIZE"));
}

async fn import_csv_loads_an_uploaded_file_with_the_cli_rules(t: TestDb) {
    let admin = SecretString::from(ADMIN.to_owned());
    let state = t.state(AccessPolicy::new(Some(&admin), None, true));
    let upload = |table: &str, name: &str, content: &str| {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, content.as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let request = Request::new(format!(
            "mutation($file: Upload!) {{ importCsv(table: {table}, file: $file) {{ table read inserted unchanged rejected rejectedByReason {{ code rows }} }} }}"
        ))
        .data(hiring_analytics::auth::Caller::admin());
        common::with_upload(request, name, file)
    };
    let schema = build_schema(&state);
    let response = schema
        .execute(upload(
            "DEPARTMENTS",
            "departments.csv",
            "1,Sales\n2,Legal\n",
        ))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let response = schema
        .execute(upload("JOBS", "jobs.csv", "1,Clerk\n"))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let response = schema
        .execute(upload(
            "HIRED_EMPLOYEES",
            "hires.csv",
            "1,Ada,2021-01-01T00:00:00Z,1,1\n2,Bob,2021-01-01T00:00:00Z,9,1\n",
        ))
        .await;
    let data = serde_json::to_value(&response.data).unwrap();
    assert_eq!(
        data["importCsv"],
        json!({"table": "HIRED_EMPLOYEES", "read": 2, "inserted": 1, "unchanged": 0, "rejected": 1,
               "rejectedByReason": [{"code": "UNKNOWN_DEPARTMENT", "rows": 1}]})
    );
    let logged = common::rejected_rows(&t.db).await;
    assert_eq!(
        logged,
        vec![(
            "csv:hires.csv".into(),
            2,
            Some("department_id".into()),
            "UNKNOWN_DEPARTMENT".into()
        )]
    );
}

async fn import_csv_over_http_multipart_needs_the_admin_token(t: TestDb) {
    let admin = SecretString::from(ADMIN.to_owned());
    let api = SecretString::from("api-token-for-ingest".to_owned());
    let http = app(t.state(AccessPolicy::new(Some(&admin), Some(&api), true)));
    let multipart = |token: &str| {
        let boundary = "XBOUNDARYX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n\
             {{\"query\":\"mutation($f: Upload!) {{ importCsv(table: DEPARTMENTS, file: $f) {{ inserted }} }}\",\"variables\":{{\"f\":null}}}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.f\"]}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"departments.csv\"\r\nContent-Type: text/csv\r\n\r\n\
             1,Sales\n2,Legal\r\n--{boundary}--\r\n"
        );
        HttpRequest::post("/graphql")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap()
    };
    let refused = send(&http, multipart("api-token-for-ingest")).await.json();
    assert_eq!(first_error_code(&refused).as_deref(), Some("FORBIDDEN"));
    assert_eq!(count_rows(&t.db, "departments").await, 0);
    let accepted = send(&http, multipart(ADMIN)).await.json();
    assert_eq!(accepted["data"]["importCsv"]["inserted"], 2, "{accepted}");
}

db_tests!(
    an_empty_batch_is_refused_whole,
    a_batch_over_1000_rows_is_refused_whole,
    a_mixed_batch_stores_the_valid_rows_and_reports_the_rest,
    duplicate_ids_within_one_batch_are_unchanged_or_refused,
    department_names_must_be_unique,
    a_hire_may_refer_to_a_department_inserted_in_an_earlier_batch,
    the_rejected_row_log_pages_newest_first,
    import_csv_loads_an_uploaded_file_with_the_cli_rules,
    import_csv_over_http_multipart_needs_the_admin_token,
);

async fn names_with_control_characters_and_unstorable_datetimes_are_refused(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    let rows = json!([
        hire(1, "Nu\u{0}l", "2021-01-01T00:00:00Z", 1, 1),
        hire(2, "Tab\tName", "2021-01-01T00:00:00Z", 1, 1),
        hire(3, "Leap", "2016-12-31T23:59:60Z", 1, 1),
        hire(4, "Year Zero", "0000-01-01T00:00:00Z", 1, 1),
        hire(5, "Before Year One", "0001-01-01T00:30:00+01:00", 1, 1),
        hire(6, "Fine", "9999-12-31T23:59:59.999999Z", 1, 1),
    ]);
    let response = run_with(&state, INSERT_HIRES, json!({ "rows": rows })).await;
    let report = &response["data"]["insertHiredEmployees"];
    assert_eq!(report["inserted"], 1, "{response}");
    let codes: Vec<&str> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "INVALID_CHARACTER",
            "INVALID_CHARACTER",
            "INVALID_DATETIME",
            "INVALID_DATETIME",
            "INVALID_DATETIME"
        ]
    );
    let stored = run(&state, "{ hiredEmployee(id: 6) { hireDatetime } }").await;
    assert_eq!(
        stored["data"]["hiredEmployee"]["hireDatetime"],
        "9999-12-31T23:59:59.999999Z"
    );
}

async fn concurrent_batches_with_the_same_ids_store_each_row_once(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    let rows: Vec<Value> = (1..=300)
        .map(|id| {
            hire(
                id,
                &format!("Hire {id}"),
                "2021-06-01T12:00:00Z",
                1,
                1 + id % 2,
            )
        })
        .collect();
    let variables = json!({ "rows": rows });
    let batches = (0..4).map(|_| {
        let state = state.clone();
        let variables = variables.clone();
        tokio::spawn(async move { run_with(&state, INSERT_HIRES, variables).await })
    });
    let mut inserted = 0;
    let mut unchanged = 0;
    for batch in batches {
        let response = batch.await.unwrap();
        assert_eq!(response["errors"], Value::Null, "{response}");
        let report = &response["data"]["insertHiredEmployees"];
        assert_eq!(report["rejected"], json!([]), "{response}");
        inserted += report["inserted"].as_i64().unwrap();
        unchanged += report["unchanged"].as_i64().unwrap();
    }
    assert_eq!((inserted, unchanged), (300, 900));
    assert_eq!(count_rows(&t.db, "hired_employees").await, 300);
}

async fn bodies_other_than_json_are_refused(t: TestDb) {
    let http = app(t.local_state());
    // A cross-site form can send text/plain without a CORS preflight.
    let body =
        json!({"query": INSERT_DEPARTMENTS, "variables": {"rows": [{"id": 1, "department": "X"}]}});
    let response = send(
        &http,
        HttpRequest::post("/graphql")
            .header("content-type", "text/plain")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(response.status, 415);
    assert_eq!(
        first_error_code(&response.json()).as_deref(),
        Some("UNSUPPORTED_MEDIA_TYPE")
    );
    assert_eq!(count_rows(&t.db, "departments").await, 0);
}

async fn multipart_requests_need_the_admin_token_and_respect_the_upload_limit(t: TestDb) {
    let admin = SecretString::from(ADMIN.to_owned());
    let mut state = t.state(AccessPolicy::new(Some(&admin), None, true));
    state.upload_limit = 4096;
    let http = app(state);
    let multipart = |token: Option<&str>, padding: usize| {
        let boundary = "XBOUNDARYX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n\
             {{\"query\":\"mutation($f: Upload!) {{ importCsv(table: DEPARTMENTS, file: $f) {{ inserted }} }}\",\"variables\":{{\"f\":null}}}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.f\"]}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"departments.csv\"\r\nContent-Type: text/csv\r\n\r\n\
             1,Sales\n{}\r\n--{boundary}--\r\n",
            "\n".repeat(padding)
        );
        let mut request = HttpRequest::post("/graphql").header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        );
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::from(body)).unwrap()
    };
    let anonymous = send(&http, multipart(None, 0)).await;
    assert_eq!(anonymous.status, 403);
    assert_eq!(
        first_error_code(&anonymous.json()).as_deref(),
        Some("FORBIDDEN")
    );
    let too_large = send(&http, multipart(Some(ADMIN), 8192)).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(count_rows(&t.db, "departments").await, 0);
    let fits = send(&http, multipart(Some(ADMIN), 0)).await.json();
    assert_eq!(fits["data"]["importCsv"]["inserted"], 1, "{fits}");
}

async fn get_queries_check_the_token_too(t: TestDb) {
    let admin = SecretString::from(ADMIN.to_owned());
    let http = app(t.state(AccessPolicy::new(Some(&admin), None, true)));
    let uri = "/graphql?query=%7B%20departments%20%7B%20id%20%7D%20%7D";
    let wrong = send(
        &http,
        HttpRequest::get(uri)
            .header("authorization", "Bearer nope")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let admin_only = send(
        &http,
        HttpRequest::get(
            "/graphql?query=%7B%20rejectedRows%20%7B%20edges%20%7B%20cursor%20%7D%20%7D%20%7D",
        )
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    // Anonymous callers on loopback with a token set are analysts.
    assert_eq!(
        first_error_code(&admin_only.json()).as_deref(),
        Some("FORBIDDEN")
    );
}

db_tests!(
    names_with_control_characters_and_unstorable_datetimes_are_refused,
    concurrent_batches_with_the_same_ids_store_each_row_once,
    bodies_other_than_json_are_refused,
    multipart_requests_need_the_admin_token_and_respect_the_upload_limit,
    get_queries_check_the_token_too,
);
