//! Backup and restore, through GraphQL and the CLI, on SQLite and PostgreSQL,
//! to a local folder and to an S3-compatible server started in this process.

mod common;
#[path = "common/s3.rs"]
mod s3;

use std::{path::Path, sync::Arc};

use async_graphql::Request;
use common::{Backend, TestDb, binary, first_error_code, generated, load_generated, post_graphql};
use hiring_analytics::{
    AppState, app,
    auth::{AccessPolicy, Caller},
    build_schema,
    service::backup::{Backups, FORMAT, MANIFEST, Storage, storage::PART_BYTES},
};
use s3::S3Server;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder};
use secrecy::SecretString;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-backup-tests-0123";

/// Every row of the data tables and of the report rollup, in key order, as text.
async fn dump(db: &DatabaseConnection) -> Vec<String> {
    use entity::{department, hired_employee, job};
    let mut rows = Vec::new();
    for d in department::Entity::find()
        .order_by_asc(department::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!("department {} {:?}", d.id, d.department));
    }
    for j in job::Entity::find()
        .order_by_asc(job::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!("job {} {:?}", j.id, j.job));
    }
    for h in hired_employee::Entity::find()
        .order_by_asc(hired_employee::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!(
            "hire {} {:?} {} {} {}",
            h.id,
            h.name,
            h.hire_datetime.to_rfc3339(),
            h.department_id,
            h.job_id
        ));
    }
    for ((year, month, department, job), hires) in common::stored_rollup(db).await {
        rows.push(format!(
            "rollup {year}-{month:02} {department} {job} {hires}"
        ));
    }
    rows
}

async fn wipe(db: &DatabaseConnection) {
    for table in [
        "hires_rollup",
        "hires_rollup_department",
        "hires_rollup_job",
        "hires_rollup_delta",
        "hired_employees",
        "jobs",
        "departments",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
}

/// Runs a GraphQL operation as the admin, against `backups`.
async fn admin(t: &TestDb, backups: &Backups, query: &str) -> Value {
    let mut state = t.local_state();
    state.backups = Arc::new(backups.clone());
    execute(&state, query).await
}

async fn execute(state: &AppState, query: &str) -> Value {
    let response = build_schema(state)
        .execute(Request::new(query).data(Caller::admin()))
        .await;
    serde_json::to_value(response).unwrap()
}

fn ok(response: &Value) -> &Value {
    assert!(
        response
            .get("errors")
            .is_none_or(|e| e.as_array().unwrap().is_empty()),
        "unexpected errors: {response}"
    );
    &response["data"]
}

fn error_code(response: &Value) -> String {
    first_error_code(response).unwrap_or_else(|| panic!("expected an error, got {response}"))
}

const BACKUP: &str = "mutation { backup { id totalRows tables { table rows bytes sha256 } } }";

async fn backup_id(t: &TestDb, backups: &Backups) -> String {
    let response = admin(t, backups, BACKUP).await;
    ok(&response)["backup"]["id"].as_str().unwrap().to_owned()
}

fn restore(id: &str, extra: &str) -> String {
    format!(
        r#"mutation {{ restore(backupId: "{id}"{extra}) {{ backupId dryRun tables {{ table rowsBefore rowsRestored }} }} }}"#
    )
}

fn verify(id: &str) -> String {
    format!(r#"mutation {{ verifyBackup(id: "{id}") {{ rowsChecked backup {{ id }} }} }}"#)
}

async fn seeded(t: &TestDb) {
    load_generated(t, generated(3_000, 11, 2020, 2022)).await;
}

fn local(dir: &Path) -> Backups {
    Backups::new(Storage::local(dir))
}

async fn round_trip(t: &TestDb, backups: &Backups) {
    seeded(t).await;
    let before = dump(&t.db).await;
    let id = backup_id(t, backups).await;
    wipe(&t.db).await;
    assert!(dump(&t.db).await.is_empty());
    let report = admin(t, backups, &restore(&id, "")).await;
    let tables = &ok(&report)["restore"]["tables"];
    assert_eq!(
        tables,
        &json!([
            {"table": "DEPARTMENTS", "rowsBefore": 0, "rowsRestored": 12},
            {"table": "JOBS", "rowsBefore": 0, "rowsRestored": 183},
            {"table": "HIRED_EMPLOYEES", "rowsBefore": 0, "rowsRestored": 3000},
        ])
    );
    assert_eq!(
        dump(&t.db).await,
        before,
        "every row must come back as it was"
    );
    assert_eq!(
        common::stored_rollup(&t.db).await,
        common::raw_sql_aggregate(&t.db).await,
        "the month rollup rebuilt by the restore equals the raw aggregate"
    );
}

async fn backup_wipe_and_restore_through_a_local_folder_gives_identical_tables(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&t, &local(dir.path())).await;
}

async fn backup_wipe_and_restore_through_s3_gives_identical_tables(t: TestDb) {
    let server = S3Server::start().await;
    let backups = Backups::new(server.storage("prod/hiring").await);
    round_trip(&t, &backups).await;
    let listed = admin(&t, &backups, "{ backups { id location tables { table } } }").await;
    let location = ok(&listed)["backups"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with("s3://backups/prod/hiring/"),
        "{location}"
    );
}

async fn a_set_holds_one_avro_file_per_table_and_a_manifest(t: TestDb) {
    seeded(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = backup_id(&t, &backups).await;
    assert!(hiring_analytics::service::backup::is_set_id(&id), "{id}");
    let set = dir.path().join(&id);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(set.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(manifest["format"], FORMAT);
    assert_eq!(manifest["formatVersion"], 1);
    assert_eq!(manifest["codec"], "zstandard");
    assert_eq!(
        manifest["backend"],
        if t.backend == Backend::Postgres {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert!(manifest["migration"].as_str().unwrap().starts_with("m2026"));
    let hires = &manifest["tables"][2];
    assert_eq!(hires["table"], "hired_employees");
    assert_eq!(hires["rows"], 3000);
    let bytes = std::fs::read(set.join("hired_employees.avro")).unwrap();
    assert_eq!(hires["bytes"], bytes.len());
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(hires["sha256"], sha);

    let reader = apache_avro::Reader::new(&bytes[..]).unwrap();
    let schema: Value = serde_json::from_str(&reader.writer_schema().canonical_form()).unwrap();
    let fields: Vec<&str> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["id", "name", "hire_datetime", "department_id", "job_id"]
    );
    assert!(matches!(
        reader.writer_schema(),
        apache_avro::Schema::Record(r) if r.fields[2].schema == apache_avro::Schema::TimestampMicros
    ));
    let first = reader.into_iter().next().unwrap().unwrap();
    let apache_avro::types::Value::Record(fields) = first else {
        panic!("not a record: {first:?}");
    };
    assert_eq!(fields[0].0, "id");
    assert!(matches!(
        fields[2].1,
        apache_avro::types::Value::TimestampMicros(_)
    ));
    assert!(String::from_utf8_lossy(&bytes[..400]).contains("zstandard"));
}

async fn storage_failing_mid_backup_writes_no_manifest_and_keeps_earlier_sets(t: TestDb) {
    seeded(&t).await;
    let server = S3Server::start().await;
    let backups = Backups::new(server.storage("").await);
    let earlier = backup_id(&t, &backups).await;
    // The departments object goes up, then S3 refuses everything.
    server.refuse_writes_after(1);
    let failed = admin(&t, &backups, BACKUP).await;
    assert_eq!(error_code(&failed), "STORAGE_UNAVAILABLE");
    let message = failed["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("AccessDenied"), "{message}");
    server.refuse_writes_after(-1);

    let listed = admin(&t, &backups, "{ backups { id } }").await;
    assert_eq!(ok(&listed)["backups"], json!([{"id": earlier}]));
    let sets: Vec<_> = std::fs::read_dir(server.root.path().join(s3::BUCKET))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    for set in &sets {
        let has_manifest = server.object_path("", set, MANIFEST).exists();
        assert_eq!(
            has_manifest,
            *set == earlier,
            "only the earlier set has a manifest: {sets:?}"
        );
    }
    ok(&admin(&t, &backups, &verify(&earlier)).await);
}

async fn damaged_set_fails(t: &TestDb, backups: &Backups, id: &str, code: &str) {
    let before = dump(&t.db).await;
    let verified = admin(t, backups, &verify(id)).await;
    assert_eq!(error_code(&verified), code, "{verified}");
    let restored = admin(t, backups, &restore(id, "")).await;
    assert_eq!(error_code(&restored), code, "{restored}");
    assert_eq!(dump(&t.db).await, before, "the database must not change");
}

/// A backup of the seeded database, then changes, so a restore would show.
async fn set_then_changes(t: &TestDb, backups: &Backups) -> String {
    seeded(t).await;
    let id = backup_id(t, backups).await;
    let response = execute(
        &t.local_state(),
        r#"mutation { insertHiredEmployees(rows: [{id: 900001, name: "After Backup", hireDatetime: "2023-02-03T04:05:06Z", departmentId: 1, jobId: 1}]) { inserted } }"#,
    )
    .await;
    assert_eq!(ok(&response)["insertHiredEmployees"]["inserted"], 1);
    id
}

async fn a_corrupted_object_fails_with_checksum_mismatch_and_changes_nothing(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = set_then_changes(&t, &backups).await;
    let path = dir.path().join(&id).join("hired_employees.avro");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, bytes).unwrap();
    damaged_set_fails(&t, &backups, &id, "CHECKSUM_MISMATCH").await;
}

async fn a_truncated_object_fails_with_checksum_mismatch_and_changes_nothing(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = set_then_changes(&t, &backups).await;
    let path = dir.path().join(&id).join("jobs.avro");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
    damaged_set_fails(&t, &backups, &id, "CHECKSUM_MISMATCH").await;
}

/// Rewrites an object and its manifest entry so that size and checksum agree again.
fn rewrite_consistently(set: &Path, table: &str, body: &[u8], rows: Option<u64>) {
    use sha2::Digest;
    std::fs::write(set.join(format!("{table}.avro")), body).unwrap();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(set.join(MANIFEST)).unwrap()).unwrap();
    for entry in manifest["tables"].as_array_mut().unwrap() {
        if entry["table"] == table {
            entry["bytes"] = json!(body.len());
            entry["sha256"] = json!(
                sha2::Sha256::digest(body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            if let Some(rows) = rows {
                entry["rows"] = json!(rows);
            }
        }
    }
    std::fs::write(set.join(MANIFEST), serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn departments_file(schema: &str, rows: &[(i32, &str)], column: &str) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(schema).unwrap();
    let mut writer = apache_avro::Writer::builder()
        .schema(&schema)
        .writer(Vec::new())
        .codec(apache_avro::Codec::Deflate(Default::default()))
        .build()
        .unwrap();
    for (id, name) in rows {
        writer
            .append_value(apache_avro::types::Value::Record(vec![
                ("id".into(), apache_avro::types::Value::Int(*id)),
                (
                    column.into(),
                    apache_avro::types::Value::String((*name).into()),
                ),
            ]))
            .unwrap();
    }
    writer.into_inner().unwrap()
}

const DEPARTMENTS_SCHEMA: &str = r#"{"type": "record", "name": "departments", "namespace": "hiring_analytics",
    "fields": [{"name": "id", "type": "int"}, {"name": "department", "type": "string"}]}"#;

async fn a_set_with_a_wrong_schema_wrong_counts_or_invalid_rows_is_refused(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    seeded(&t).await;
    let id = backup_id(&t, &backups).await;
    let set = dir.path().join(&id);
    let original = std::fs::read(set.join("departments.avro")).unwrap();
    let manifest = std::fs::read(set.join(MANIFEST)).unwrap();
    let names: Vec<(i32, String)> = (1..=12).map(|i| (i, format!("Department {i}"))).collect();
    let valid: Vec<(i32, &str)> = names.iter().map(|(i, n)| (*i, n.as_str())).collect();

    // Columns renamed: a different schema.
    let renamed = DEPARTMENTS_SCHEMA.replace("\"department\"", "\"title\"");
    rewrite_consistently(
        &set,
        "departments",
        &departments_file(&renamed, &valid, "title"),
        None,
    );
    damaged_set_fails(&t, &backups, &id, "SCHEMA_MISMATCH").await;

    // More rows than the manifest says.
    std::fs::write(set.join(MANIFEST), &manifest).unwrap();
    let mut more = valid.clone();
    more.push((13, "Extra"));
    rewrite_consistently(
        &set,
        "departments",
        &departments_file(DEPARTMENTS_SCHEMA, &more, "department"),
        Some(12),
    );
    damaged_set_fails(&t, &backups, &id, "ROW_COUNT_MISMATCH").await;

    // A row the import would refuse: an empty name, then a duplicate id.
    for bad in [(3, "  "), (2, "Department 9")] {
        std::fs::write(set.join(MANIFEST), &manifest).unwrap();
        let mut rows = valid.clone();
        rows[2] = bad;
        rewrite_consistently(
            &set,
            "departments",
            &departments_file(DEPARTMENTS_SCHEMA, &rows, "department"),
            Some(12),
        );
        damaged_set_fails(&t, &backups, &id, "INVALID_BACKUP_DATA").await;
    }

    // Not Avro at all, with a matching checksum.
    std::fs::write(set.join(MANIFEST), &manifest).unwrap();
    rewrite_consistently(&set, "departments", b"not an avro file", Some(12));
    damaged_set_fails(&t, &backups, &id, "CORRUPT_BACKUP").await;

    // Put back, it restores again.
    std::fs::write(set.join(MANIFEST), &manifest).unwrap();
    std::fs::write(set.join("departments.avro"), original).unwrap();
    ok(&admin(&t, &backups, &verify(&id)).await);
}

async fn a_restore_that_fails_midway_leaves_the_database_unchanged(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = set_then_changes(&t, &backups).await;
    // A trigger refuses one hire while the hires load: departments and jobs
    // were already replaced by then, inside the same transaction.
    let trigger = match t.backend {
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_hire() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_hire BEFORE INSERT ON hired_employees \
             FOR EACH ROW WHEN (NEW.id = 2500) EXECUTE FUNCTION refuse_hire()",
        ],
        Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_hire BEFORE INSERT ON hired_employees \
             WHEN NEW.id = 2500 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
    };
    for statement in trigger {
        t.db.execute_unprepared(statement).await.unwrap();
    }
    t.db.execute_unprepared("UPDATE departments SET department = 'Renamed' WHERE id = 1")
        .await
        .unwrap();
    let before = dump(&t.db).await;
    let keys_before = catalog(&t).await;
    let failed = admin(&t, &backups, &restore(&id, "")).await;
    assert_eq!(error_code(&failed), "INTERNAL_SERVER_ERROR", "{failed}");
    assert!(
        !failed.to_string().contains("injected"),
        "internal causes are logged, not sent"
    );
    assert_eq!(dump(&t.db).await, before);
    assert_eq!(catalog(&t).await, keys_before, "keys and indexes are back");
}

/// The indexes and constraints of the data tables.
async fn catalog(t: &TestDb) -> Vec<String> {
    let sql = match t.backend {
        Backend::Postgres => {
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
             FROM pg_constraint WHERE conrelid::regclass::text IN ('departments', 'jobs', 'hired_employees')
             UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()
             ORDER BY 1"
        }
        Backend::Sqlite => "SELECT coalesce(sql, name) FROM sqlite_master ORDER BY 1",
    };
    t.db.query_all_raw(sea_orm::Statement::from_string(
        t.db.get_database_backend(),
        sql,
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}

async fn a_backup_or_restore_while_another_runs_gets_busy(t: TestDb) {
    seeded(&t).await;
    let server = S3Server::start().await;
    let backups = Backups::new(server.storage("").await);
    let earlier = backup_id(&t, &backups).await;
    server.hold_writes();
    let running = {
        let state = {
            let mut state = t.local_state();
            state.backups = Arc::new(backups.clone());
            state
        };
        tokio::spawn(async move { execute(&state, BACKUP).await })
    };
    server.wait_for_held_write().await;
    assert_eq!(error_code(&admin(&t, &backups, BACKUP).await), "BUSY");
    assert_eq!(
        error_code(&admin(&t, &backups, &restore(&earlier, "")).await),
        "BUSY"
    );
    // Another process (the CLI) is refused as well.
    let output = binary()
        .args([
            "backup",
            "--backup-url",
            "s3://backups/",
            "--progress",
            "log",
        ])
        .env("DATABASE_URL", &t.url)
        .env("S3_ENDPOINT", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("BUSY"), "{stderr}");
    server.release_writes();
    let finished = running.await.unwrap();
    ok(&finished);
    ok(&admin(&t, &backups, BACKUP).await);
}

async fn writes_during_a_backup_succeed_and_the_set_is_a_consistent_snapshot(t: TestDb) {
    seeded(&t).await;
    let before = dump(&t.db).await;
    let server = S3Server::start().await;
    let backups = Backups::new(server.storage("").await);
    server.hold_writes();
    let running = {
        let mut state = t.local_state();
        state.backups = Arc::new(backups.clone());
        tokio::spawn(async move { execute(&state, BACKUP).await })
    };
    // The snapshot is taken and its first object is on its way.
    server.wait_for_held_write().await;
    let insert = execute(
        &t.local_state(),
        r#"mutation {
            insertDepartments(rows: [{id: 99, department: "Added During Backup"}]) { inserted }
            insertHiredEmployees(rows: [{id: 900002, name: "During Backup", hireDatetime: "2022-05-06T07:08:09Z", departmentId: 99, jobId: 1}]) { inserted }
        }"#,
    )
    .await;
    assert_eq!(ok(&insert)["insertHiredEmployees"]["inserted"], 1);
    let after_writes = dump(&t.db).await;
    server.release_writes();
    let set = running.await.unwrap();
    let set = &ok(&set)["backup"];
    assert_eq!(set["totalRows"], 12 + 183 + 3000);
    let id = set["id"].as_str().unwrap();

    let fresh = TestDb::new(t.backend).await.unwrap();
    let restored = admin(&fresh, &backups, &restore(id, "")).await;
    ok(&restored);
    assert_eq!(
        dump(&fresh.db).await,
        before,
        "the set is the state before the writes"
    );
    assert_eq!(dump(&t.db).await, after_writes, "the writes were kept");
}

async fn restoring_departments_that_current_hires_need_is_refused(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    seeded(&t).await;
    let id = backup_id(&t, &backups).await;
    // Departments alone restore while every hire still finds its department.
    let keys = catalog(&t).await;
    let alone = admin(&t, &backups, &restore(&id, ", tables: [DEPARTMENTS]")).await;
    assert_eq!(
        ok(&alone)["restore"]["tables"],
        json!([{"table": "DEPARTMENTS", "rowsBefore": 12, "rowsRestored": 12}])
    );
    assert_eq!(catalog(&t).await, keys, "the hires' foreign keys are back");

    let response = execute(
        &t.local_state(),
        r#"mutation {
            insertDepartments(rows: [{id: 77, department: "New Team"}]) { inserted }
            insertHiredEmployees(rows: [{id: 900003, name: "New Hire", hireDatetime: "2023-01-01T00:00:00Z", departmentId: 77, jobId: 2}]) { inserted }
        }"#,
    )
    .await;
    ok(&response);
    let before = dump(&t.db).await;
    let refused = admin(&t, &backups, &restore(&id, ", tables: [DEPARTMENTS]")).await;
    assert_eq!(error_code(&refused), "RESTORE_BREAKS_REFERENCES");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("77"), "{message}");
    assert_eq!(dump(&t.db).await, before);

    // With the hires as well, it goes through.
    let restored = admin(
        &t,
        &backups,
        &restore(&id, ", tables: [HIRED_EMPLOYEES, DEPARTMENTS]"),
    )
    .await;
    assert_eq!(
        ok(&restored)["restore"]["tables"],
        json!([
            {"table": "DEPARTMENTS", "rowsBefore": 13, "rowsRestored": 12},
            {"table": "HIRED_EMPLOYEES", "rowsBefore": 3001, "rowsRestored": 3000},
        ])
    );
}

async fn a_dry_run_restore_reports_the_rows_and_changes_nothing(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = set_then_changes(&t, &backups).await;
    let before = dump(&t.db).await;
    let report = admin(&t, &backups, &restore(&id, ", dryRun: true")).await;
    let report = &ok(&report)["restore"];
    assert_eq!(report["dryRun"], true);
    assert_eq!(
        report["tables"][2],
        json!({"table": "HIRED_EMPLOYEES", "rowsBefore": 3001, "rowsRestored": 3000})
    );
    assert_eq!(dump(&t.db).await, before);
}

async fn only_chosen_tables_are_backed_up_and_restored(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    seeded(&t).await;
    let response = admin(
        &t,
        &backups,
        "mutation { backup(tables: [JOBS, DEPARTMENTS, JOBS]) { id tables { table } } }",
    )
    .await;
    let set = &ok(&response)["backup"];
    assert_eq!(
        set["tables"],
        json!([{"table": "DEPARTMENTS"}, {"table": "JOBS"}])
    );
    let id = set["id"].as_str().unwrap();
    let refused = admin(&t, &backups, &restore(id, ", tables: [HIRED_EMPLOYEES]")).await;
    assert_eq!(error_code(&refused), "TABLE_NOT_IN_BACKUP");
    let empty = admin(&t, &backups, "mutation { backup(tables: []) { id } }").await;
    assert_eq!(error_code(&empty), "INVALID_TABLES");
    let restored = admin(&t, &backups, &restore(id, "")).await;
    assert_eq!(
        ok(&restored)["restore"]["tables"].as_array().unwrap().len(),
        2
    );
}

async fn retention_keeps_the_newest_sets_once_a_backup_succeeds(t: TestDb) {
    seeded(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let mut backups = local(dir.path());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(backup_id(&t, &backups).await);
    }
    // An incomplete set left by a crash, older than the next backup.
    std::fs::create_dir(dir.path().join("20000101T000000Z-0000")).unwrap();
    backups.keep = Some(2);
    ids.push(backup_id(&t, &backups).await);
    let listed = admin(&t, &backups, "{ backups { id } }").await;
    let listed: Vec<&str> = ok(&listed)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[3].as_str(), ids[2].as_str()], "newest first");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut kept = vec![ids[2].clone(), ids[3].clone()];
    kept.sort();
    assert_eq!(on_disk, kept, "older sets and the incomplete one are gone");
}

async fn unknown_and_malformed_backup_ids_get_clear_codes(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    for (id, code) in [
        ("20200101T000000Z-abcd", "BACKUP_NOT_FOUND"),
        ("../../etc", "INVALID_BACKUP_ID"),
    ] {
        assert_eq!(error_code(&admin(&t, &backups, &verify(id)).await), code);
        assert_eq!(
            error_code(&admin(&t, &backups, &restore(id, "")).await),
            code
        );
    }
}

async fn every_backup_operation_needs_the_admin_token(t: TestDb) {
    let admin_token = SecretString::from(ADMIN.to_owned());
    let api = SecretString::from("api-token-for-backup-tests-01234".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let mut state = t.state(AccessPolicy::new(Some(&admin_token), Some(&api), false));
    state.backups = Arc::new(local(dir.path()));
    let router = app(state);
    let id = "20200101T000000Z-abcd";
    for operation in [
        BACKUP.to_owned(),
        "{ backups { id } }".to_owned(),
        verify(id),
        restore(id, ""),
    ] {
        let anonymous = post_graphql(&router, None, &operation).await.json();
        assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{operation}");
        let writer = post_graphql(
            &router,
            Some("api-token-for-backup-tests-01234"),
            &operation,
        )
        .await
        .json();
        assert_eq!(error_code(&writer), "FORBIDDEN", "{operation}");
    }
    let allowed = post_graphql(&router, Some(ADMIN), "{ backups { id } }")
        .await
        .json();
    assert_eq!(allowed["data"]["backups"], json!([]));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was written"
    );
}

async fn the_cli_backs_up_lists_verifies_and_restores(t: TestDb) {
    seeded(&t).await;
    let before = dump(&t.db).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = binary()
            .args(args)
            .env("DATABASE_URL", &t.url)
            .env("BACKUP_URL", dir.path())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["backup", "--json", "--progress", "log"]);
    assert_eq!(code, Some(0), "{stderr}");
    let manifest: Value = serde_json::from_str(&stdout).unwrap();
    let id = manifest["id"].as_str().unwrap().to_owned();

    let (code, stdout, _) = run(&["backups"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(&id) && stdout.contains("3195"), "{stdout}");

    let (code, stdout, stderr) = run(&["verify", &id]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("intact"), "{stdout}");

    wipe(&t.db).await;
    let (code, stdout, stderr) = run(&["restore", &id, "--dry-run", "--progress", "log"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("dry run"), "{stdout}");
    assert!(dump(&t.db).await.is_empty());
    let (code, _, stderr) = run(&[
        "restore",
        &id,
        "--tables",
        "departments,jobs,hired_employees",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(dump(&t.db).await, before);

    let (code, _, stderr) = run(&["restore", "20200101T000000Z-abcd"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("BACKUP_NOT_FOUND"), "{stderr}");
    let path = dir.path().join(&id).join("hired_employees.avro");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();
    let (code, _, stderr) = run(&["verify", &id]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("CHECKSUM_MISMATCH"), "{stderr}");
}

db_tests!(
    backup_wipe_and_restore_through_a_local_folder_gives_identical_tables,
    backup_wipe_and_restore_through_s3_gives_identical_tables,
    a_set_holds_one_avro_file_per_table_and_a_manifest,
    storage_failing_mid_backup_writes_no_manifest_and_keeps_earlier_sets,
    a_corrupted_object_fails_with_checksum_mismatch_and_changes_nothing,
    a_truncated_object_fails_with_checksum_mismatch_and_changes_nothing,
    a_set_with_a_wrong_schema_wrong_counts_or_invalid_rows_is_refused,
    a_restore_that_fails_midway_leaves_the_database_unchanged,
    a_backup_or_restore_while_another_runs_gets_busy,
    writes_during_a_backup_succeed_and_the_set_is_a_consistent_snapshot,
    restoring_departments_that_current_hires_need_is_refused,
    a_dry_run_restore_reports_the_rows_and_changes_nothing,
    only_chosen_tables_are_backed_up_and_restored,
    retention_keeps_the_newest_sets_once_a_backup_succeeds,
    unknown_and_malformed_backup_ids_get_clear_codes,
    every_backup_operation_needs_the_admin_token,
    the_cli_backs_up_lists_verifies_and_restores,
);

/// Objects larger than a part go up as a multipart upload and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_objects_go_to_s3_as_a_multipart_upload() {
    let server = S3Server::start().await;
    let storage = server.storage("big").await;
    let set = "20261127T000000Z-0001";
    // Incompressible bytes, 2.5 parts' worth, written in uneven pieces.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let body: Vec<u8> = (0..PART_BYTES * 5 / 2)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut upload = storage.create(set, "blob.avro").await.unwrap();
    for piece in body.chunks(777_777) {
        upload
            .write(bytes::Bytes::copy_from_slice(piece))
            .await
            .unwrap();
    }
    upload.finish().await.unwrap();
    assert_eq!(
        server
            .control
            .parts
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    let mut object = storage.open(set, "blob.avro").await.unwrap().unwrap();
    let mut read = Vec::new();
    while let Some(chunk) = object.next_chunk().await.unwrap() {
        read.extend_from_slice(&chunk);
    }
    assert!(read == body, "the object reads back byte for byte");
    assert!(storage.open(set, "missing.avro").await.unwrap().is_none());
}

/// A set taken on one backend restores into the other, row for row.
async fn portable(from: Backend, to: Backend) {
    let (Some(source), Some(target)) = (TestDb::new(from).await, TestDb::new(to).await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    seeded(&source).await;
    let id = backup_id(&source, &backups).await;
    ok(&admin(&target, &backups, &restore(&id, "")).await);
    assert_eq!(dump(&target.db).await, dump(&source.db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_taken_from_sqlite_restores_into_postgres() {
    portable(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_taken_from_postgres_restores_into_sqlite() {
    portable(Backend::Postgres, Backend::Sqlite).await;
}

/// Restores while another connection appends deltas and folds them without
/// pause: the fold locks the deltas, then the rollup; a restore that locked
/// them the other way round could deadlock with it.
async fn restores_while_the_compactor_folds_never_deadlock(t: TestDb) {
    seeded(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let backups = local(dir.path());
    let id = backup_id(&t, &backups).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let folding = {
        let (db, stop) = (t.db.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let append =
                "INSERT INTO hires_rollup_delta (year, department_id, job_id, m1, changed_at)
                          VALUES (2020, 1, 1, 0, '2020-01-01T00:00:00Z')";
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.execute_unprepared(append).await.unwrap();
                hiring_analytics::service::rollup::compact(&db)
                    .await
                    .unwrap();
            }
        })
    };
    for _ in 0..12 {
        ok(&admin(&t, &backups, &restore(&id, "")).await);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    folding.await.unwrap();
}

db_tests!(restores_while_the_compactor_folds_never_deadlock);
