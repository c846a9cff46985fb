//! Many writers at once: the rollup stays equal to the raw aggregate, a
//! compaction stopped midway changes nothing, `asOf` never moves back, and
//! reads do not wait for connections held by blocked writes. On SQLite and
//! PostgreSQL.

mod common;

use std::{sync::Arc, time::Duration};

use common::{TestDb, data_of as ok, pending_deltas, raw_sql_aggregate, stored_rollup};
use hiring_analytics::{
    AppState,
    rules::Table,
    service::{
        import::{ImportProgress, import_csv},
        rollup::{self, Compaction},
    },
};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use serde_json::{Value, json};
use tokio::sync::watch;

const INSERT: &str = "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted rejected { code } } }";

/// Eight departments and twelve jobs.
async fn seed_dimensions(state: &AppState) {
    let departments: Vec<Value> = (1..=8)
        .map(|i| json!({"id": i, "department": format!("Department {i}")}))
        .collect();
    let jobs: Vec<Value> = (1..=12)
        .map(|i| json!({"id": i, "job": format!("Job {i}")}))
        .collect();
    ok(
        state,
        "mutation($d: [DepartmentInput!]!, $j: [JobInput!]!) { insertDepartments(rows: $d) { inserted } insertJobs(rows: $j) { inserted } }",
        json!({"d": departments, "j": jobs}),
    )
    .await;
}

/// Hire `id`, spread over years, quarters, departments and jobs; ids above
/// 1,000,000 name a department that does not exist, and are refused.
fn hire(id: u64) -> (u64, String, u64, u64) {
    let at = format!(
        "{}-{:02}-{:02}T{:02}:15:00Z",
        2019 + id % 4,
        id % 12 + 1,
        id % 28 + 1,
        id % 24
    );
    let department = if id > 1_000_000 { 99 } else { id % 8 + 1 };
    (id, at, department, id % 12 + 1)
}

fn hire_rows(ids: impl Iterator<Item = u64>) -> Vec<Value> {
    ids.map(|id| {
        let (id, at, department, job) = hire(id);
        json!({"id": id, "name": format!("Hire {id}"), "hireDatetime": at,
               "departmentId": department, "jobId": job})
    })
    .collect()
}

fn hire_csv(ids: impl Iterator<Item = u64>) -> String {
    ids.map(|id| {
        let (id, at, department, job) = hire(id);
        format!("{id},Hire {id},{at},{department},{job}\n")
    })
    .collect()
}

/// Writes `batches` batches of 100 hires from `first` on, a few refused each time.
async fn write_batches(state: AppState, first: u64, batches: u64) -> u64 {
    let mut inserted = 0;
    for batch in 0..batches {
        let start = first + batch * 100;
        let rows = hire_rows((start..start + 98).chain([1_000_000 + start, start]));
        let data = ok(&state, INSERT, json!({ "rows": rows })).await;
        inserted += data["insertHiredEmployees"]["inserted"].as_u64().unwrap();
    }
    inserted
}

/// Imports `count` hires from `first` on as one CSV file.
async fn import_hires(state: AppState, first: u64, count: u64) -> u64 {
    let text = hire_csv(first..first + count);
    let summary = import_csv(
        &state.db,
        Table::HiredEmployees,
        "csv:concurrent.csv",
        Box::new(std::io::Cursor::new(text.into_bytes())),
        Arc::new(ImportProgress::default()),
    )
    .await
    .unwrap();
    summary.inserted
}

/// Compacts until told to stop, checking that `asOf` never moves back.
async fn compact_until(state: AppState, mut stop: watch::Receiver<bool>) -> u64 {
    let mut folded = 0;
    let mut last_as_of = None;
    while !*stop.borrow() {
        if let Compaction::Folded(rows) = rollup::compact(&state.db).await.unwrap() {
            folded += rows;
        }
        let as_of = rollup::changed_at(&state.read_db).await.unwrap();
        assert!(
            as_of >= last_as_of,
            "asOf moved back: {last_as_of:?} to {as_of:?}"
        );
        last_as_of = as_of;
        let _ = tokio::time::timeout(Duration::from_millis(5), stop.changed()).await;
    }
    folded
}

async fn concurrent_writers_and_imports_keep_the_rollup_equal_to_the_raw_aggregate(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    let (stop, stopped) = watch::channel(false);
    let compactor = tokio::spawn(compact_until(state.clone(), stopped));
    let mut writers = Vec::new();
    for writer in 0..6u64 {
        writers.push(tokio::spawn(write_batches(
            state.clone(),
            1 + writer * 10_000,
            5,
        )));
    }
    for import in 0..2u64 {
        writers.push(tokio::spawn(import_hires(
            state.clone(),
            100_000 + import * 10_000,
            700,
        )));
    }
    let mut acknowledged = 0;
    for writer in writers {
        acknowledged += writer.await.unwrap();
    }
    stop.send(true).unwrap();
    let folded = compactor.await.unwrap();
    assert_eq!(acknowledged, 6 * 5 * 98 + 2 * 700);

    let raw = raw_sql_aggregate(&t.db).await;
    assert_eq!(raw.values().sum::<i64>(), acknowledged as i64);
    assert_eq!(
        stored_rollup(&t.db).await,
        raw,
        "folded {folded} delta rows meanwhile"
    );
    rollup::compact(&t.db).await.unwrap();
    assert_eq!(pending_deltas(&t.db).await, 0);
    assert_eq!(stored_rollup(&t.db).await, raw, "after the last compaction");
    let report = ok(
        &state,
        "{ hiresByQuarter(year: 2020) { q1 q2 q3 q4 } }",
        json!({}),
    )
    .await;
    let in_2020: i64 = common::quarterly_hires(&report["hiresByQuarter"]);
    let raw_2020: i64 = raw
        .iter()
        .filter(|(k, _)| k.0 == 2020)
        .map(|(_, v)| v)
        .sum();
    assert_eq!(in_2020, raw_2020);
}

/// Makes the compaction's removal of the folded deltas fail: on SQLite its last
/// step, after adding them to the compacted cells and moving the stamp; on
/// PostgreSQL the one statement that does all three.
async fn break_the_last_compaction_step(t: &TestDb) {
    let sql = match t.db.get_database_backend() {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION stop_compaction() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'stopped midway'; END $$",
            "CREATE TRIGGER stop_compaction BEFORE DELETE ON hires_rollup_delta
             FOR EACH STATEMENT EXECUTE FUNCTION stop_compaction()",
        ],
        _ => vec![
            "CREATE TRIGGER stop_compaction BEFORE DELETE ON hires_rollup_delta
             BEGIN SELECT RAISE(ABORT, 'stopped midway'); END",
        ],
    };
    for statement in sql {
        t.db.execute_unprepared(statement).await.unwrap();
    }
}

async fn a_compaction_that_fails_midway_loses_and_double_counts_nothing(t: TestDb) {
    let state = t.local_state();
    seed_dimensions(&state).await;
    write_batches(state.clone(), 1, 3).await;
    let raw = raw_sql_aggregate(&t.db).await;
    let pending = pending_deltas(&t.db).await;
    let as_of = ok(&state, "{ reportsAsOf }", json!({})).await;
    assert!(pending > 0);

    break_the_last_compaction_step(&t).await;
    assert!(rollup::compact(&t.db).await.is_err());
    assert_eq!(pending_deltas(&t.db).await, pending);
    assert_eq!(stored_rollup(&t.db).await, raw);
    assert_eq!(ok(&state, "{ reportsAsOf }", json!({})).await, as_of);

    let drop = match t.db.get_database_backend() {
        DbBackend::Postgres => "DROP TRIGGER stop_compaction ON hires_rollup_delta",
        _ => "DROP TRIGGER stop_compaction",
    };
    t.db.execute_unprepared(drop).await.unwrap();
    if t.db.get_database_backend() == DbBackend::Postgres {
        kill_a_compactor_midway(&t).await;
        assert_eq!(pending_deltas(&t.db).await, pending);
        assert_eq!(stored_rollup(&t.db).await, raw);
    }
    assert_eq!(
        rollup::compact(&t.db).await.unwrap(),
        Compaction::Folded(pending as u64)
    );
    assert_eq!(pending_deltas(&t.db).await, 0);
    assert_eq!(stored_rollup(&t.db).await, raw);
    assert_eq!(ok(&state, "{ reportsAsOf }", json!({})).await, as_of);
}

/// PostgreSQL: holds back the compactor's fold with a lock, once it holds the
/// compactor lock in its open transaction, and terminates its server process
/// while it waits there.
async fn kill_a_compactor_midway(t: &TestDb) {
    let blocker = hiring_analytics::db::connect(&t.url, Default::default())
        .await
        .unwrap();
    let held = blocker.begin().await.unwrap();
    held.execute_unprepared("LOCK TABLE hires_rollup_delta IN SHARE ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    let db = t.db.clone();
    let compaction = tokio::spawn(async move { rollup::compact(&db).await });
    let waiting = "SELECT pid FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND query LIKE 'WITH moved AS (%DELETE FROM hires_rollup_delta%'";
    let pid: i32 = loop {
        let row = blocker
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                waiting,
            ))
            .await
            .unwrap();
        if let Some(row) = row {
            break row.try_get("", "pid").unwrap();
        }
        assert!(
            !compaction.is_finished(),
            "the compaction did not wait at its last step"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Meanwhile readers see the deltas pending, not folded twice.
    assert_eq!(stored_rollup(&t.db).await, raw_sql_aggregate(&t.db).await);
    blocker
        .execute_unprepared(&format!("SELECT pg_terminate_backend({pid})"))
        .await
        .unwrap();
    assert!(
        compaction.await.unwrap().is_err(),
        "the killed compaction failed"
    );
    held.rollback().await.unwrap();
    blocker.close().await.unwrap();
}

/// Holds the write lock writers need, letting reads through: on SQLite an
/// open write transaction, on PostgreSQL a lock on the hires table.
async fn hold_writes(t: &TestDb) -> sea_orm::DatabaseTransaction {
    let other = hiring_analytics::db::connect(&t.url, Default::default())
        .await
        .unwrap();
    let held = hiring_analytics::db::begin_write(&other).await.unwrap();
    if t.db.get_database_backend() == DbBackend::Postgres {
        held.execute_unprepared("LOCK TABLE hired_employees IN EXCLUSIVE MODE")
            .await
            .unwrap();
    }
    held
}

async fn reports_and_lists_answer_while_every_write_connection_waits(t: TestDb) {
    seed_dimensions(&t.local_state()).await;
    write_batches(t.local_state(), 1, 2).await;
    let server = common::Server::start(&t.url, &[("DATABASE_POOL_SIZE", "2")]);
    let url = format!("http://{}/graphql", server.address);
    let client = reqwest::Client::new();
    let held = hold_writes(&t).await;
    let mut writers = Vec::new();
    for writer in 0..2u64 {
        let rows = hire_rows(10_000 + writer * 100..10_000 + writer * 100 + 50);
        let request = client
            .post(&url)
            .json(&json!({"query": INSERT, "variables": {"rows": rows}}))
            .send();
        writers.push(tokio::spawn(request));
    }
    // Both write connections are taken and wait for the lock.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for query in [
        "{ hiresByQuarter(year: 2020) { department q1 } reportsAsOf }",
        "{ hiredEmployees(first: 5) { totalCount nodes { id } } }",
    ] {
        let answer: Value = client
            .post(&url)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["errors"], Value::Null, "{answer}");
    }
    assert!(
        writers.iter().all(|w| !w.is_finished()),
        "the writers did not wait"
    );
    held.rollback().await.unwrap();
    for writer in writers {
        let answer: Value = writer.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(
            answer["data"]["insertHiredEmployees"]["inserted"], 50,
            "{answer}"
        );
    }
}

db_tests!(
    reports_and_lists_answer_while_every_write_connection_waits,
    concurrent_writers_and_imports_keep_the_rollup_equal_to_the_raw_aggregate,
    a_compaction_that_fails_midway_loses_and_double_counts_nothing,
);
