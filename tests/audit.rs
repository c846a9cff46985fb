//! The audit log: every write and admin operation, from GraphQL or the CLI,
//! leaves an append-only row naming who made it, without tokens or row
//! contents; admins read it newest first; on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use async_graphql::{Request, Variables};
use common::{Server, TestDb, admin, binary, first_error_code, schema_with_backups};
use hiring_analytics::{
    AppSchema,
    auth::{Caller, Role},
};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "audit-admin-token-that-must-never-be-logged-7731";
const HIRE_NAME: &str = "Zelda Unique";

const ENTRY: &str = "id at identity display role operation arguments outcome requestId operationId";

/// Runs `query` with `variables` as `caller`, as JSON (data and errors).
async fn call(schema: &AppSchema, caller: &Caller, query: &str, variables: Value) -> Value {
    let request = Request::new(query)
        .variables(Variables::from_json(variables))
        .data(caller.clone());
    serde_json::to_value(schema.execute(request).await).unwrap()
}

/// Like [`call`], failing the test on any error; returns the data.
async fn call_ok(schema: &AppSchema, caller: &Caller, query: &str, variables: Value) -> Value {
    let response = call(schema, caller, query, variables).await;
    assert_eq!(response["errors"], Value::Null, "{query}: {response}");
    response["data"].clone()
}

/// The newest `first` entries of the audit log, newest first, read as the admin.
async fn newest_entries(schema: &AppSchema, first: usize) -> Vec<Value> {
    let query = format!("{{ auditLog(first: {first}) {{ edges {{ node {{ {ENTRY} }} }} }} }}");
    nodes(&admin(schema, &query).await["auditLog"])
}

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// Every row of `audit_log`, every column, as the database holds it.
async fn stored_rows(t: &TestDb) -> Vec<String> {
    entity::audit_entry::Entity::find()
        .order_by_asc(entity::audit_entry::Column::Id)
        .all(&t.db)
        .await
        .unwrap()
        .iter()
        .map(|row| format!("{row:?}"))
        .collect()
}

const SEED_DIMENSIONS: &str = r#"mutation {
    insertDepartments(rows: [{ id: 1, department: "Sales" }]) { inserted }
    insertJobs(rows: [{ id: 1, job: "Analyst" }]) { inserted }
}"#;

const INSERT_HIRES: &str =
    "mutation($rows: [HiredEmployeeInput!]!) { insertHiredEmployees(rows: $rows) { inserted } }";

fn hires(names: &[&str], first_id: i32) -> Value {
    let rows: Vec<Value> = (first_id..)
        .zip(names)
        .map(|(id, name)| {
            json!({ "id": id, "name": name, "hireDatetime": "2021-03-01T09:00:00Z",
                    "departmentId": 1, "jobId": 1 })
        })
        .collect();
    json!({ "rows": rows })
}

async fn an_insert_a_backup_and_a_restore_each_leave_a_row_naming_who_made_them(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let alice = Caller::service("alice-script", Role::Editor);
    let bob = Caller::service("bob-backups", Role::Admin);
    let carol = Caller::user("carol", Some("carol@example.com".into()), Some(Role::Admin));
    call_ok(&schema, &alice, SEED_DIMENSIONS, json!({})).await;
    let names = [HIRE_NAME, "Ann Other", "Bo Third"];
    call_ok(&schema, &alice, INSERT_HIRES, hires(&names, 1)).await;
    let set = call_ok(&schema, &bob, "mutation { backup { id } }", json!({})).await;
    let set = set["backup"]["id"].as_str().unwrap().to_owned();
    let restore = "mutation($set: ID!) { restore(backupId: $set, tables: [JOBS]) { dryRun } }";
    call_ok(&schema, &carol, restore, json!({ "set": set })).await;

    let entries = newest_entries(&schema, 10).await;
    let operations: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "restore",
            "backup",
            "insertHiredEmployees",
            "insertJobs",
            "insertDepartments"
        ]
    );
    let (restored, backed_up, inserted) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(restored["identity"], "user:carol");
    assert_eq!(restored["display"], "carol@example.com");
    assert_eq!(restored["role"], "admin");
    assert_eq!(
        restored["arguments"],
        json!({ "backupId": set, "tables": ["JOBS"], "dryRun": false })
    );
    assert_eq!(backed_up["identity"], "token:bob-backups");
    assert_eq!(backed_up["role"], "admin");
    assert_eq!(backed_up["arguments"], json!({}));
    assert_eq!(inserted["identity"], "token:alice-script");
    assert_eq!(inserted["role"], "editor");
    assert_eq!(inserted["display"], Value::Null);
    assert_eq!(inserted["arguments"], json!({ "rows": { "count": 3 } }));
    assert_eq!(inserted["operationId"], Value::Null);
    for entry in &entries {
        assert_eq!(entry["outcome"], "OK", "{entry}");
        assert_eq!(entry["requestId"], Value::Null, "{entry}");
    }
    for entry in [restored, backed_up] {
        let id = entry["operationId"].as_str().expect("an operation id");
        let query = format!(r#"{{ operation(id: "{id}") {{ kind startedBy }} }}"#);
        let operation = admin(&schema, &query).await["operation"].clone();
        assert_eq!(operation["startedBy"], entry["identity"], "{operation}");
    }
    for row in stored_rows(&t).await {
        for name in names {
            assert!(
                !row.contains(name),
                "an audit row holds a hire's name: {row}"
            );
        }
    }
}

async fn a_forbidden_insert_is_recorded_with_its_outcome(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    let viewer = Caller::service("viewer-bot", Role::Viewer);
    let refused = call(&schema, &viewer, INSERT_HIRES, hires(&[HIRE_NAME], 1)).await;
    assert_eq!(first_error_code(&refused).as_deref(), Some("FORBIDDEN"));
    let anonymous = Caller::anonymous(None);
    let refused = call(&schema, &anonymous, "mutation { backup { id } }", json!({})).await;
    assert_eq!(
        first_error_code(&refused).as_deref(),
        Some("UNAUTHENTICATED")
    );

    let entries = newest_entries(&schema, 10).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["operation"], "backup");
    assert_eq!(entries[0]["identity"], "anonymous");
    assert_eq!(entries[0]["role"], "none");
    assert_eq!(entries[0]["outcome"], "UNAUTHENTICATED");
    assert_eq!(entries[1]["operation"], "insertHiredEmployees");
    assert_eq!(entries[1]["identity"], "token:viewer-bot");
    assert_eq!(entries[1]["role"], "viewer");
    assert_eq!(entries[1]["outcome"], "FORBIDDEN");
    assert_eq!(entries[1]["arguments"], json!({ "rows": { "count": 1 } }));
    assert!(!stored_rows(&t).await.concat().contains(HIRE_NAME));
}

async fn a_refused_batch_and_an_upload_are_recorded_without_row_contents(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let editor = Caller::service("editor-script", Role::Editor);
    let names = vec!["Too Many"; 1_001];
    let too_many = call(&schema, &editor, INSERT_HIRES, hires(&names, 1)).await;
    assert_eq!(first_error_code(&too_many).as_deref(), Some("BATCH_SIZE"));

    let csv = dir.path().join("departments.csv");
    let body = "1,Secret Department Name\n2,Other\n";
    std::fs::write(&csv, body).unwrap();
    let request = Request::new(
        "mutation($file: Upload!) { importCsv(table: DEPARTMENTS, file: $file) { inserted } }",
    )
    .data(Caller::admin());
    let request = common::with_upload(
        request,
        "departments.csv",
        std::fs::File::open(&csv).unwrap(),
    );
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);

    let entries = newest_entries(&schema, 10).await;
    assert_eq!(entries[0]["operation"], "importCsv");
    assert_eq!(
        entries[0]["arguments"],
        json!({ "table": "DEPARTMENTS", "file": { "bytes": body.len() } })
    );
    assert_eq!(entries[0]["outcome"], "OK");
    assert!(entries[0]["operationId"].is_string());
    assert_eq!(entries[1]["operation"], "insertHiredEmployees");
    assert_eq!(entries[1]["outcome"], "BATCH_SIZE");
    assert_eq!(
        entries[1]["arguments"],
        json!({ "rows": { "count": 1_001 } })
    );
    let stored = stored_rows(&t).await.concat();
    assert!(!stored.contains("Secret Department") && !stored.contains("Too Many"));
}

async fn the_audit_log_pages_newest_first_and_filters_by_identity_and_since(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    let (ann, ben) = (
        Caller::service("ann", Role::Editor),
        Caller::service("ben", Role::Editor),
    );
    call_ok(&schema, &ann, SEED_DIMENSIONS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(20)).await;
    for (id, caller) in (1..).zip([&ben, &ann, &ben]) {
        call_ok(&schema, caller, INSERT_HIRES, hires(&["Someone"], id)).await;
    }

    let page = |first: usize, after: Option<&str>| {
        let after = after.map_or(String::new(), |cursor| format!(r#", after: "{cursor}""#));
        format!(
            "{{ auditLog(first: {first}{after}) {{ pageInfo {{ hasNextPage hasPreviousPage }}
                edges {{ cursor node {{ id identity }} }} }} }}"
        )
    };
    let first = admin(&schema, &page(3, None)).await["auditLog"].clone();
    let first_nodes = nodes(&first);
    assert_eq!(first_nodes.len(), 3);
    let ids: Vec<i64> = first_nodes
        .iter()
        .map(|n| n["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not newest first: {ids:?}"
    );
    assert_eq!(first_nodes[0]["identity"], "token:ben");
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["edges"][2]["cursor"].as_str().unwrap();
    let second = admin(&schema, &page(3, Some(cursor))).await["auditLog"].clone();
    let rest: Vec<&str> = second["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["identity"].as_str().unwrap())
        .collect();
    assert_eq!(
        rest,
        ["token:ann", "token:ann"],
        "insertJobs, insertDepartments"
    );
    assert_eq!(second["pageInfo"]["hasNextPage"], false);

    let filtered = r#"query($who: String, $since: DateTime) {
        auditLog(identity: $who, since: $since) { edges { node { identity operation } } } }"#;
    let by_ben = call_ok(
        &schema,
        &Caller::admin(),
        filtered,
        json!({ "who": "token:ben" }),
    )
    .await;
    assert_eq!(nodes(&by_ben["auditLog"]).len(), 2);
    let recent = call_ok(
        &schema,
        &Caller::admin(),
        filtered,
        json!({ "since": since }),
    )
    .await;
    let recent = nodes(&recent["auditLog"]);
    assert_eq!(recent.len(), 3, "{recent:?}");
    assert!(
        recent
            .iter()
            .all(|n| n["operation"] == "insertHiredEmployees")
    );
    let both = json!({ "who": "token:ann", "since": since });
    let ann_recent = call_ok(&schema, &Caller::admin(), filtered, both).await;
    assert_eq!(nodes(&ann_recent["auditLog"]).len(), 1);
    let nobody = json!({ "who": "token:nobody" });
    let none = call_ok(&schema, &Caller::admin(), filtered, nobody).await;
    assert_eq!(nodes(&none["auditLog"]), Vec::<Value>::new());

    for (query, code) in [
        ("{ auditLog(first: 0) { edges { cursor } } }", "PAGE_SIZE"),
        ("{ auditLog(first: 101) { edges { cursor } } }", "PAGE_SIZE"),
        (
            r#"{ auditLog(after: "nope") { edges { cursor } } }"#,
            "INVALID_CURSOR",
        ),
        (
            r#"{ auditLog(since: "yesterday") { edges { cursor } } }"#,
            "BAD_USER_INPUT",
        ),
    ] {
        let response = call(&schema, &Caller::admin(), query, json!({})).await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some(code),
            "{query}"
        );
    }
}

async fn only_admins_may_read_the_audit_log(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    let query = "{ auditLog { edges { node { identity } } } }";
    for role in [Role::Viewer, Role::Analyst, Role::Editor] {
        let caller = Caller::service("someone", role);
        let response = call(&schema, &caller, query, json!({})).await;
        assert_eq!(
            first_error_code(&response).as_deref(),
            Some("FORBIDDEN"),
            "{role}: {response}"
        );
    }
    let anonymous = call(&schema, &Caller::anonymous(None), query, json!({})).await;
    assert_eq!(
        first_error_code(&anonymous).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(admin(&schema, query).await["auditLog"]["edges"], json!([]));
}

async fn the_audit_log_refuses_updates_and_deletes(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    admin(&schema, SEED_DIMENSIONS).await;
    let before = stored_rows(&t).await;
    assert_eq!(before.len(), 2);
    let mut statements = vec![
        "UPDATE audit_log SET outcome = 'OK', identity = 'someone else'",
        "UPDATE audit_log SET at = at WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "DELETE FROM audit_log",
    ];
    if t.backend == common::Backend::Postgres {
        statements.push("TRUNCATE audit_log");
    }
    for statement in statements {
        let err =
            t.db.execute_unprepared(statement)
                .await
                .expect_err(statement);
        assert!(
            err.to_string().contains("audit_log is append-only"),
            "{statement}: {err}"
        );
    }
    assert_eq!(stored_rows(&t).await, before);
}

async fn an_operation_names_who_started_it_through_its_audit_entry(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    let dave = Caller::service("dave-ops", Role::Admin);
    call_ok(&schema, &dave, SEED_DIMENSIONS, json!({})).await;
    // Two mutations in one request: each entry names its own operation.
    let started = call_ok(
        &schema,
        &dave,
        r#"mutation {
            backup: startBackup(tables: [DEPARTMENTS]) { id }
            verify: startVerifyBackup(id: "20990101T000000Z-dead") { id }
        }"#,
        json!({}),
    )
    .await;
    for alias in ["backup", "verify"] {
        let id = started[alias]["id"].as_str().unwrap();
        wait_until_final(&schema, id).await;
    }
    let listed = admin(
        &schema,
        "{ operations { edges { node { id kind auditEntry { identity operation operationId arguments } } } } }",
    )
    .await;
    let operations = nodes(&listed["operations"]);
    assert_eq!(operations.len(), 2, "{listed}");
    for operation in &operations {
        let entry = &operation["auditEntry"];
        assert_eq!(entry["identity"], "token:dave-ops", "{operation}");
        assert_eq!(entry["operationId"], operation["id"], "{operation}");
        let expected = match operation["kind"].as_str().unwrap() {
            "BACKUP" => ("startBackup", json!({ "tables": ["DEPARTMENTS"] })),
            _ => (
                "startVerifyBackup",
                json!({ "id": "20990101T000000Z-dead" }),
            ),
        };
        assert_eq!(
            (
                entry["operation"].as_str().unwrap(),
                entry["arguments"].clone()
            ),
            expected
        );
    }
}

async fn a_call_whose_request_is_dropped_before_it_answers_is_recorded_as_abandoned(t: TestDb) {
    let schema = schema_with_backups(&t, tempfile::tempdir().unwrap().path());
    let erin = Caller::service("erin-gone", Role::Editor);
    let request = Request::new(SEED_DIMENSIONS).data(erin);
    let mut answer = Box::pin(schema.execute(request));
    // The first poll gets the mutation going, up to its first wait for the database.
    assert!(futures_util::poll!(&mut answer).is_pending());
    drop(answer);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let entries = newest_entries(&schema, 10).await;
        if !entries.is_empty() || tokio::time::Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["operation"], "insertDepartments");
    assert_eq!(entries[0]["identity"], "token:erin-gone");
    assert_eq!(entries[0]["outcome"], "ABANDONED");
}

async fn wait_until_final(schema: &AppSchema, id: &str) {
    let query = format!(r#"{{ operation(id: "{id}") {{ state }} }}"#);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = admin(schema, &query).await["operation"]["state"].clone();
        if !["QUEUED", "RUNNING"].contains(&state.as_str().unwrap()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} is still {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs `query` to the server with the admin token and `x-request-id: request_id`.
async fn post_with_request_id(
    server: &Server,
    query: &str,
    variables: Value,
    request_id: &str,
) -> Value {
    reqwest::Client::new()
        .post(format!("http://{}/graphql", server.address))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", request_id)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn writes_over_http_leave_rows_with_their_request_id_and_never_the_token(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().to_str().unwrap();
    let server = Server::start(
        &t.url,
        &[("ADMIN_TOKEN", ADMIN_TOKEN), ("BACKUP_URL", backups)],
    );
    let seeded = post_with_request_id(&server, SEED_DIMENSIONS, json!({}), "req-seed-1").await;
    assert_eq!(seeded["errors"], Value::Null, "{seeded}");
    let inserted = post_with_request_id(
        &server,
        INSERT_HIRES,
        hires(&[HIRE_NAME], 1),
        "req-insert-2",
    )
    .await;
    assert_eq!(inserted["errors"], Value::Null, "{inserted}");
    let backup = post_with_request_id(
        &server,
        "mutation { backup { id } }",
        json!({}),
        "req-backup-3",
    )
    .await;
    let set = backup["data"]["backup"]["id"]
        .as_str()
        .expect("a backup")
        .to_owned();
    let restore = "mutation($set: ID!) { restore(backupId: $set) { dryRun } }";
    let restored =
        post_with_request_id(&server, restore, json!({ "set": set }), "req-restore-4").await;
    assert_eq!(restored["errors"], Value::Null, "{restored}");

    let listed = post_with_request_id(
        &server,
        &format!("{{ auditLog {{ edges {{ node {{ {ENTRY} }} }} }} }}"),
        json!({}),
        "req-read-5",
    )
    .await;
    let entries = nodes(&listed["data"]["auditLog"]);
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["requestId"].as_str().unwrap(),
                e["identity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("restore", "req-restore-4", "token:admin"),
            ("backup", "req-backup-3", "token:admin"),
            ("insertHiredEmployees", "req-insert-2", "token:admin"),
            ("insertJobs", "req-seed-1", "token:admin"),
            ("insertDepartments", "req-seed-1", "token:admin"),
        ]
    );
    let rows = stored_rows(&t).await;
    assert_eq!(rows.len(), 5);
    for row in rows {
        assert!(
            !row.contains(ADMIN_TOKEN),
            "an audit row holds the token: {row}"
        );
        assert!(
            !row.contains(HIRE_NAME),
            "an audit row holds a hire's name: {row}"
        );
    }
}

async fn a_backup_run_from_the_cli_is_recorded_as_made_by_the_cli_user(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let output = common::succeeded(
        binary()
            .args(["backup", "--json"])
            .env("DATABASE_URL", &t.url)
            .env("BACKUP_URL", dir.path())
            .env("USER", "ops-alice"),
    );
    let set: Value = serde_json::from_slice(&output).unwrap();

    let schema = schema_with_backups(&t, dir.path());
    let entries = newest_entries(&schema, 10).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["identity"], "cli:ops-alice");
    assert_eq!(entry["role"], "admin");
    assert_eq!(entry["operation"], "backup");
    assert_eq!(entry["outcome"], "OK");
    assert_eq!(entry["requestId"], Value::Null);
    let id = entry["operationId"]
        .as_str()
        .expect("the backup's operation");
    let query =
        format!(r#"{{ operation(id: "{id}") {{ result {{ ... on BackupSet {{ id }} }} }} }}"#);
    let operation = admin(&schema, &query).await;
    assert_eq!(operation["operation"]["result"]["id"], set["id"]);
}

/// A file upload from a caller below admin is refused before any mutation
/// runs (403), and still leaves a FORBIDDEN row naming who tried.
async fn an_upload_refused_for_its_role_is_recorded(t: TestDb) {
    const EDITOR_TOKEN: &str = "audit-editor-token-that-must-never-be-logged-4410";
    let server = Server::start(
        &t.url,
        &[("ADMIN_TOKEN", ADMIN_TOKEN), ("API_TOKEN", EDITOR_TOKEN)],
    );
    let operations = json!({
        "query": "mutation($file: Upload!) { importCsv(table: JOBS, file: $file) { inserted } }",
        "variables": { "file": null },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{ "0": ["variables.file"] }"#)
        .part(
            "0",
            reqwest::multipart::Part::text("1,Zelda Unique\n").file_name("zelda_unique.csv"),
        );
    let refused = reqwest::Client::new()
        .post(format!("http://{}/graphql", server.address))
        .bearer_auth(EDITOR_TOKEN)
        .header("x-request-id", "req-upload-1")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let rows = stored_rows(&t).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    for expected in ["token:api", "editor", "upload", "FORBIDDEN", "req-upload-1"] {
        assert!(
            rows[0].contains(expected),
            "{expected} missing: {}",
            rows[0]
        );
    }
    assert!(!rows[0].contains(EDITOR_TOKEN) && !rows[0].contains("Zelda"));
}

db_tests!(
    an_upload_refused_for_its_role_is_recorded,
    an_insert_a_backup_and_a_restore_each_leave_a_row_naming_who_made_them,
    a_forbidden_insert_is_recorded_with_its_outcome,
    a_refused_batch_and_an_upload_are_recorded_without_row_contents,
    the_audit_log_pages_newest_first_and_filters_by_identity_and_since,
    only_admins_may_read_the_audit_log,
    the_audit_log_refuses_updates_and_deletes,
    an_operation_names_who_started_it_through_its_audit_entry,
    a_call_whose_request_is_dropped_before_it_answers_is_recorded_as_abandoned,
    writes_over_http_leave_rows_with_their_request_id_and_never_the_token,
    a_backup_run_from_the_cli_is_recorded_as_made_by_the_cli_user,
);
