//! `hiring-analytics import` and `generate` through the built binary, on SQLite and PostgreSQL.

mod common;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

use common::{TestDb, count_rows, rejected_rows};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hiring-analytics");

fn command(database_url: &str) -> Command {
    let mut command = common::binary();
    command.env("DATABASE_URL", database_url);
    command
}

fn import(database_url: &str, args: &[&str]) -> Output {
    command(database_url)
        .arg("import")
        .args(args)
        .args(["--json", "--progress", "log"])
        .output()
        .unwrap()
}

/// Imports three explicit files.
fn import_files(database_url: &str, departments: &str, jobs: &str, hires: &str) -> Output {
    import(
        database_url,
        &[
            "--departments",
            departments,
            "--jobs",
            jobs,
            "--hired-employees",
            hires,
        ],
    )
}

fn summary(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON summary")
}

fn table<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["table"] == name)
        .unwrap_or_else(|| panic!("no {name} in {summary}"))
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

async fn importing_the_real_samples_stores_every_valid_row_and_logs_the_rest(t: TestDb) {
    let Some(data) = common::shared_data_dir() else {
        return;
    };
    let data = data.display().to_string();
    let first = summary(&import(&t.url, &["--dir", &data]));
    assert_eq!(table(&first, "departments")["inserted"], 12);
    assert_eq!(table(&first, "jobs")["inserted"], 183);
    let hires = table(&first, "hired_employees");
    assert_eq!(hires["read"], 1999);
    assert_eq!(hires["inserted"], 1929);
    assert_eq!(hires["rejected"], 70);
    assert_eq!(
        hires["rejected_by_reason"],
        serde_json::json!({"MISSING_FIELD": 70})
    );
    assert_eq!(count_rows(&t.db, "departments").await, 12);
    assert_eq!(count_rows(&t.db, "jobs").await, 183);
    assert_eq!(count_rows(&t.db, "hired_employees").await, 1929);
    let logged = rejected_rows(&t.db).await;
    assert_eq!(logged.len(), 70);
    assert!(logged.iter().all(|(source, _, field, code)| {
        source == "csv:hired_employees.csv" && code == "MISSING_FIELD" && field.is_some()
    }));
    // Line 2 of the sample lacks its job id.
    assert!(logged.contains(&(
        "csv:hired_employees.csv".into(),
        2,
        Some("job_id".into()),
        "MISSING_FIELD".into()
    )));

    let second = summary(&import(&t.url, &["--dir", &data]));
    assert_eq!(table(&second, "departments")["unchanged"], 12);
    assert_eq!(table(&second, "jobs")["unchanged"], 183);
    let hires = table(&second, "hired_employees");
    assert_eq!(
        (hires["inserted"].clone(), hires["unchanged"].clone()),
        (0.into(), 1929.into())
    );
    assert_eq!(count_rows(&t.db, "hired_employees").await, 1929);
}

async fn csv_quirks_are_read_correctly(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    // BOM, CRLF, a quoted comma, a blank line, no final newline.
    let departments = write(
        dir.path(),
        "d.csv",
        b"\xEF\xBB\xBF1,Sales\r\n2,\"Research, Development\"\r\n\r\n3,\"Say \"\"Hi\"\"\"",
    );
    let jobs = write(dir.path(), "j.csv", b"1,Clerk\n2,\"Manager, Ops\"\n");
    let hires = write(
        dir.path(),
        "h.csv",
        b"1,\"Smith, Jr.\",2021-11-07T02:48:42Z,2,2\n\n2,Ana,2021-11-07T04:48:42+02:00,3,1\n3,Too,Many,Fields,1,1\n4,Few,2021-01-01T00:00:00Z",
    );
    let output = summary(&import_files(&t.url, &departments, &jobs, &hires));
    assert_eq!(table(&output, "departments")["inserted"], 3);
    assert_eq!(table(&output, "jobs")["inserted"], 2);
    let h = table(&output, "hired_employees");
    assert_eq!(h["inserted"], 2);
    assert_eq!(
        h["rejected_by_reason"],
        serde_json::json!({"WRONG_FIELD_COUNT": 2})
    );

    let app = hiring_analytics::app(t.local_state());
    let body = common::post_graphql(
        &app,
        None,
        "{ departments { department } a: hiredEmployee(id: 1) { name hireDatetime job { job } } b: hiredEmployee(id: 2) { hireDatetime } }",
    )
    .await
    .json();
    assert_eq!(
        body["data"]["departments"],
        serde_json::json!([{"department": "Sales"}, {"department": "Research, Development"}, {"department": "Say \"Hi\""}])
    );
    assert_eq!(body["data"]["a"]["name"], "Smith, Jr.");
    assert_eq!(body["data"]["a"]["job"]["job"], "Manager, Ops");
    assert_eq!(body["data"]["b"]["hireDatetime"], "2021-11-07T02:48:42Z");
    let lines: Vec<i64> = rejected_rows(&t.db).await.iter().map(|r| r.1).collect();
    assert_eq!(lines, vec![4, 5], "line numbers count the blank line");
}

async fn every_rejection_reason_is_detected_and_logged(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(256);
    let departments = write(dir.path(), "d.csv", b"1,Sales\n2,Sales\n0,Zero\n");
    let jobs = write(dir.path(), "j.csv", b"1,Clerk\n1,Other\n");
    let hires = format!(
        "1,Ada,2021-01-01T00:00:00Z,1,1\n\
         2,Bob,2021-01-01T00:00:00Z\n\
         3, ,2021-01-01T00:00:00Z,1,1\n\
         4x,Cy,2021-01-01T00:00:00Z,1,1\n\
         5,{long},2021-01-01T00:00:00Z,1,1\n\
         6,Di,2021-01-01 00:00:00,1,1\n\
         7,Ed,2021-01-01T00:00:00Z,99,1\n\
         8,Fa,2021-01-01T00:00:00Z,1,99\n\
         1,Ada Changed,2021-01-01T00:00:00Z,1,1\n\
         1,Ada,2021-01-01T00:00:00Z,1,1\n\
         9,Gu,2021-01-01T00:00:00.1234567Z,1,1\n\
         10,Hé,2021-01-01T00:00:00Z,1,1\n\
         2147483648,Big,2021-01-01T00:00:00Z,1,1\n\
         12,Late,2021-01-01T00:00:00Z,99,1\n\
         12,Late,2021-01-01T00:00:00Z,1,1\n\
         12,Late Again,2021-01-01T00:00:00Z,1,1\n"
    );
    let mut hires = hires.into_bytes();
    hires.extend_from_slice(b"11,Bad\xffByte,2021-01-01T00:00:00Z,1,1\n");
    // Rows after the bad byte keep their line numbers.
    hires.extend_from_slice(b"13,After,2021-01-01T00:00:00Z,1,1\n");
    let hires = write(dir.path(), "h.csv", &hires);
    let output = summary(&import_files(&t.url, &departments, &jobs, &hires));
    assert_eq!(
        table(&output, "departments")["rejected_by_reason"],
        serde_json::json!({"DUPLICATE_NAME": 1, "INVALID_ID": 1})
    );
    assert_eq!(
        table(&output, "jobs")["rejected_by_reason"],
        serde_json::json!({"DUPLICATE_ID": 1})
    );
    let h = table(&output, "hired_employees");
    assert_eq!(h["inserted"], 4, "{h}");
    assert_eq!(h["unchanged"], 1, "{h}");
    let logged: Vec<(i64, Option<String>, String)> = rejected_rows(&t.db)
        .await
        .into_iter()
        .filter(|r| r.0 == "csv:h.csv")
        .map(|r| (r.1, r.2, r.3))
        .collect();
    let expected = [
        (2, None, "WRONG_FIELD_COUNT"),
        (3, Some("name"), "MISSING_FIELD"),
        (4, Some("id"), "INVALID_ID"),
        (5, Some("name"), "NAME_TOO_LONG"),
        (6, Some("hire_datetime"), "INVALID_DATETIME"),
        (7, Some("department_id"), "UNKNOWN_DEPARTMENT"),
        (8, Some("job_id"), "UNKNOWN_JOB"),
        (9, Some("id"), "DUPLICATE_ID"),
        (11, Some("hire_datetime"), "INVALID_DATETIME"),
        (13, Some("id"), "INVALID_ID"),
        (14, Some("department_id"), "UNKNOWN_DEPARTMENT"),
        (16, Some("id"), "DUPLICATE_ID"),
        (17, None, "INVALID_ENCODING"),
    ];
    let expected: Vec<(i64, Option<String>, String)> = expected
        .iter()
        .map(|(line, field, code)| (*line, field.map(str::to_owned), (*code).to_owned()))
        .collect();
    assert_eq!(logged, expected);
    assert_eq!(count_rows(&t.db, "hired_employees").await, 4);
}

async fn a_missing_file_fails_before_anything_is_loaded(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let departments = write(dir.path(), "departments.csv", b"1,Sales\n");
    let output = import(&t.url, &["--dir", &dir.path().display().to_string()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jobs.csv"), "{stderr}");
    assert_eq!(count_rows(&t.db, "departments").await, 0);
    let output = import(
        &t.url,
        &[
            "--departments",
            &departments,
            "--jobs",
            "/nonexistent/jobs.csv",
        ],
    );
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(count_rows(&t.db, "departments").await, 0);
}

/// Generates `rows` hires, starts importing them, and returns once the hire
/// table's import is under way, with the rest of the process's log.
fn import_under_way(
    t: &TestDb,
    dir: &Path,
    rows: u64,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStderr>>,
) {
    let status = command(&t.url)
        .args([
            "generate",
            "--hires",
            &rows.to_string(),
            "--seed",
            "3",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(status.status.success());
    let mut child = command(&t.url)
        .args(["import", "--progress", "log", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let under_way = stderr
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("import progress") && line.contains("hired_employees"));
    assert!(under_way, "the import ended before it could be cut off");
    (child, stderr)
}

async fn an_import_cut_off_midway_leaves_the_table_as_it_was(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _log) = import_under_way(&t, dir.path(), 600_000);
    // The hard way: no chance to clean up, as when the machine or the connection dies.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count_rows(&t.db, "hired_employees").await, 0);
    assert_eq!(count_rows(&t.db, "departments").await, 12);
    assert_eq!(count_rows(&t.db, "jobs").await, 183);

    // Running it again completes the load.
    let output = import(&t.url, &["--dir", &dir.path().display().to_string()]);
    assert_eq!(
        table(&summary(&output), "hired_employees")["inserted"],
        600_000
    );
    assert_eq!(count_rows(&t.db, "hired_employees").await, 600_000);
}

async fn generated_bad_rows_cover_every_rejection_reason(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let output = command(&t.url)
        .args([
            "generate",
            "--hires",
            "5000",
            "--seed",
            "11",
            "--bad-fraction",
            "0.05",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let result = summary(&import(
        &t.url,
        &["--dir", &dir.path().display().to_string()],
    ));
    assert_eq!(
        table(&result, "jobs")["rejected_by_reason"],
        serde_json::json!({"DUPLICATE_NAME": 1})
    );
    let reasons = table(&result, "hired_employees")["rejected_by_reason"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        reasons,
        [
            "DUPLICATE_ID",
            "INVALID_DATETIME",
            "INVALID_ENCODING",
            "INVALID_ID",
            "MISSING_FIELD",
            "NAME_TOO_LONG",
            "UNKNOWN_DEPARTMENT",
            "UNKNOWN_JOB",
            "WRONG_FIELD_COUNT"
        ]
    );
}

#[test]
fn the_generator_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        let output = Command::new(BIN)
            .args([
                "generate",
                "--hires",
                "2000",
                "--seed",
                "9",
                "--bad-fraction",
                "0.1",
                "--out",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(output.status.success());
    }
    for file in ["departments.csv", "jobs.csv", "hired_employees.csv"] {
        let left = std::fs::read(a.path().join(file)).unwrap();
        let right = std::fs::read(b.path().join(file)).unwrap();
        assert!(
            left == right,
            "{file} differs between two runs with one seed"
        );
    }
    let hires = std::fs::read(a.path().join("hired_employees.csv")).unwrap();
    assert_eq!(
        hires
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        2000
    );
}

db_tests!(
    importing_the_real_samples_stores_every_valid_row_and_logs_the_rest,
    csv_quirks_are_read_correctly,
    every_rejection_reason_is_detected_and_logged,
    a_missing_file_fails_before_anything_is_loaded,
    an_import_cut_off_midway_leaves_the_table_as_it_was,
    generated_bad_rows_cover_every_rejection_reason,
);

/// Index and foreign-key definitions of `hired_employees`, sorted.
async fn hire_table_definitions(t: &TestDb) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let sql = match t.db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'hired_employees'
             UNION ALL
             SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = 'hired_employees'::regclass"
        }
        _ => {
            "SELECT COALESCE(sql, name) AS def FROM sqlite_master WHERE tbl_name = 'hired_employees'"
        }
    };
    let mut definitions: Vec<String> =
        t.db.query_all_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "def").unwrap())
            .collect();
    definitions.sort();
    definitions
}

async fn a_load_into_an_empty_table_keeps_every_index_and_constraint(t: TestDb) {
    let before = hire_table_definitions(&t).await;
    assert!(before.len() >= 4, "{before:?}");
    let dir = tempfile::tempdir().unwrap();
    let output = command(&t.url)
        .args(["generate", "--hires", "3000", "--seed", "5", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let result = summary(&import(
        &t.url,
        &["--dir", &dir.path().display().to_string()],
    ));
    assert_eq!(table(&result, "hired_employees")["inserted"], 3000);
    assert_eq!(hire_table_definitions(&t).await, before);
}

async fn ctrl_c_stops_an_import_and_rolls_back_its_table(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, stderr) = import_under_way(&t, dir.path(), 600_000);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted: hired_employees was rolled back")),
        "{rest:?}"
    );
    assert_eq!(count_rows(&t.db, "hired_employees").await, 0);
    assert_eq!(count_rows(&t.db, "jobs").await, 183);
}

async fn a_stray_quote_spoils_only_its_own_line(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let departments = write(dir.path(), "d.csv", b"1,Sales\n");
    let jobs = write(dir.path(), "j.csv", b"1,Clerk\n");
    let mut hires = b"1,Ada,2021-01-01T00:00:00Z,1,1\n2,\"Bob,2021-01-01T00:00:00Z,1,1\n".to_vec();
    for id in 3..=1000 {
        hires.extend_from_slice(format!("{id},Row {id},2021-01-01T00:00:00Z,1,1\n").as_bytes());
    }
    let hires = write(dir.path(), "h.csv", &hires);
    let output = summary(&import_files(&t.url, &departments, &jobs, &hires));
    let h = table(&output, "hired_employees");
    assert_eq!(h["inserted"], 999, "{h}");
    assert_eq!(
        h["rejected_by_reason"],
        serde_json::json!({"MALFORMED_CSV": 1})
    );
    let logged = rejected_rows(&t.db).await;
    assert_eq!(
        logged,
        vec![("csv:h.csv".into(), 2, None, "MALFORMED_CSV".into())]
    );
}

db_tests!(
    a_load_into_an_empty_table_keeps_every_index_and_constraint,
    ctrl_c_stops_an_import_and_rolls_back_its_table,
    a_stray_quote_spoils_only_its_own_line,
);
