//! One wording for every refused hire: GraphQL, the SQLite import, and both
//! PostgreSQL import paths (into an empty table, and into a loaded one) log
//! byte-identical field, code, message and raw text for the same input.

mod common;

use std::{io::Cursor, sync::Arc};

use async_graphql::{Request, Variables};
use common::{Backend, Start, TestDb};
use hiring_analytics::{
    build_schema,
    rules::Table,
    service::import::{ImportProgress, import_csv},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

/// A hire as (id, name, hire datetime, department id, job id), written the same
/// way as a CSV line and as GraphQL input.
type Hire = (i32, String, &'static str, i32, i32);

/// One hire of each kind of refusal a GraphQL client can also send, plus the
/// valid row the duplicate collides with. Department 1 and job 1 exist.
fn hires() -> Vec<Hire> {
    let at = "2021-01-01T00:00:00Z";
    vec![
        (1, "Ann".into(), at, 1, 1),
        (2, "Bob".into(), "2021-02-01T00:00:00Z", 99, 1),
        (3, "Cy".into(), "2021-03-01T00:00:00Z", 1, 99),
        (1, "Ann Changed".into(), at, 1, 1),
        (-4, "Dee".into(), at, 1, 1),
        (5, "Eve".into(), "2021-01-01 00:00:00", 1, 1),
        (6, String::new(), at, 1, 1),
        (7, "x".repeat(300), at, 1, 1),
        (8, "Tab\tName".into(), at, 1, 1),
        (9, "Leap".into(), "2016-12-31T23:59:60Z", 1, 1),
        (10, "Fine".into(), "2021-05-05T10:00:00.1234567Z", 1, 1),
    ]
}

fn csv(hires: &[Hire]) -> Vec<u8> {
    hires
        .iter()
        .map(|(id, name, at, department, job)| format!("{id},{name},{at},{department},{job}\n"))
        .collect::<String>()
        .into_bytes()
}

/// What the log says of each refused row of `source`, in input order.
type Wording = Vec<(Option<String>, String, String, String)>;

async fn logged(t: &TestDb, source: &str) -> Wording {
    use entity::rejected_row::{Column, Entity};
    Entity::find()
        .filter(Column::Source.eq(source))
        .order_by_asc(Column::Position)
        .all(&t.db)
        .await
        .expect("rejected rows")
        .into_iter()
        .map(|row| (row.field, row.code, row.message, row.raw_record))
        .collect()
}

async fn import(t: &TestDb, table: Table, source: &str, bytes: Vec<u8>) {
    let progress = Arc::new(ImportProgress::default());
    import_csv(&t.db, table, source, Box::new(Cursor::new(bytes)), progress)
        .await
        .unwrap_or_else(|err| panic!("importing {source}: {}", err.detail()));
}

async fn import_dimensions(t: &TestDb) {
    import(
        t,
        Table::Departments,
        "csv:departments.csv",
        b"1,Sales\n".to_vec(),
    )
    .await;
    import(t, Table::Jobs, "csv:jobs.csv", b"1,Clerk\n".to_vec()).await;
}

async fn through_graphql(t: &TestDb) -> Wording {
    import_dimensions(t).await;
    let rows: Vec<Value> = hires()
        .into_iter()
        .map(|(id, name, at, department, job)| {
            json!({"id": id, "name": name, "hireDatetime": at, "departmentId": department, "jobId": job})
        })
        .collect();
    let request = Request::new(
        "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted } }",
    )
    .variables(Variables::from_json(json!({ "rows": rows })));
    let response = build_schema(&t.local_state()).execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    logged(t, "graphql:insertHiredEmployees").await
}

async fn through_csv_import(t: &TestDb) -> Wording {
    import_dimensions(t).await;
    import(t, Table::HiredEmployees, "csv:hires.csv", csv(&hires())).await;
    logged(t, "csv:hires.csv").await
}

async fn through_csv_import_into_a_loaded_table(t: &TestDb) -> Wording {
    import_dimensions(t).await;
    let earlier = csv(&[(1000, "Earlier".into(), "2020-01-01T00:00:00Z", 1, 1)]);
    import(t, Table::HiredEmployees, "csv:earlier.csv", earlier).await;
    import(t, Table::HiredEmployees, "csv:hires.csv", csv(&hires())).await;
    logged(t, "csv:hires.csv").await
}

async fn fresh(backend: Backend) -> Option<TestDb> {
    TestDb::open(backend, Start::Migrated).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_hire_is_worded_the_same_by_graphql_and_every_import_path() {
    let Some(graphql_db) = fresh(Backend::Sqlite).await else {
        return;
    };
    let expected = through_graphql(&graphql_db).await;
    let codes: Vec<&str> = expected
        .iter()
        .map(|(_, code, _, _)| code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "UNKNOWN_DEPARTMENT",
            "UNKNOWN_JOB",
            "DUPLICATE_ID",
            "INVALID_ID",
            "INVALID_DATETIME",
            "MISSING_FIELD",
            "NAME_TOO_LONG",
            "INVALID_CHARACTER",
            "INVALID_DATETIME",
            "INVALID_DATETIME",
        ]
    );
    let sqlite = fresh(Backend::Sqlite).await.expect("SQLite");
    assert_eq!(through_csv_import(&sqlite).await, expected, "SQLite import");
    let (Some(empty), Some(loaded)) = (
        fresh(Backend::Postgres).await,
        fresh(Backend::Postgres).await,
    ) else {
        return;
    };
    assert_eq!(
        through_csv_import(&empty).await,
        expected,
        "PostgreSQL import into an empty table"
    );
    assert_eq!(
        through_csv_import_into_a_loaded_table(&loaded).await,
        expected,
        "PostgreSQL import into a loaded table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_on_postgresql_words_refused_hires_as_on_sqlite() {
    let (Some(sqlite), Some(postgres)) =
        (fresh(Backend::Sqlite).await, fresh(Backend::Postgres).await)
    else {
        return;
    };
    assert_eq!(
        through_graphql(&postgres).await,
        through_graphql(&sqlite).await
    );
}

/// Lines whose fields are padded or zero-filled: still valid, but refused
/// against the stored data; the log keeps each line as it was received.
const PADDED: &[u8] =
    b" 11 ,Ann, 2021-01-01T00:00:00Z , 99 ,1\n012,Bob,2021-01-01T00:00:00Z,1,0099\n";

async fn padded_through_csv_import(t: &TestDb, loaded: bool) -> Wording {
    import_dimensions(t).await;
    if loaded {
        let earlier = csv(&[(1000, "Earlier".into(), "2020-01-01T00:00:00Z", 1, 1)]);
        import(t, Table::HiredEmployees, "csv:earlier.csv", earlier).await;
    }
    import(t, Table::HiredEmployees, "csv:padded.csv", PADDED.to_vec()).await;
    logged(t, "csv:padded.csv").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_import_path_logs_a_refused_line_as_it_was_received() {
    let sqlite = fresh(Backend::Sqlite).await.expect("SQLite");
    let expected = padded_through_csv_import(&sqlite, false).await;
    let raws: Vec<&str> = expected.iter().map(|(_, _, _, raw)| raw.as_str()).collect();
    assert_eq!(
        raws,
        [
            " 11 ,Ann, 2021-01-01T00:00:00Z , 99 ,1",
            "012,Bob,2021-01-01T00:00:00Z,1,0099"
        ]
    );
    let (Some(empty), Some(loaded)) = (
        fresh(Backend::Postgres).await,
        fresh(Backend::Postgres).await,
    ) else {
        return;
    };
    assert_eq!(padded_through_csv_import(&empty, false).await, expected);
    assert_eq!(padded_through_csv_import(&loaded, true).await, expected);
}
