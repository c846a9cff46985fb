//! Admin operations as tracked jobs: started at once, followed by
//! subscription, listed, cancelled, and marked interrupted when their server
//! dies; on SQLite and PostgreSQL.

mod common;

use std::{sync::Arc, time::Duration};

use async_graphql::Request;
use common::{
    Server, TestDb, admin, binary, count_rows, first_error_code, generated, graphql_at,
    load_generated, schema_with_backups,
};
use futures_util::StreamExt;
use hiring_analytics::{
    AppSchema,
    auth::{AccessPolicy, Caller, Role},
    build_schema,
    service::backup::{Backups, Storage},
};
use secrecy::SecretString;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-operation-tests-01";

async fn operation(schema: &AppSchema, id: &str) -> Value {
    let query = format!(
        r#"{{ operation(id: "{id}") {{ id kind state startedBy progress {{ done total unit phase }}
            error {{ code message }} cancelRequested }} }}"#
    );
    admin(schema, &query).await["operation"].clone()
}

/// Polls operation `id` until `done` holds for it (at most `within`).
async fn wait_for(
    schema: &AppSchema,
    id: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = operation(schema, id).await;
        if done(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "operation {id} did not get there: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_final(op: &Value) -> bool {
    ["SUCCEEDED", "FAILED", "CANCELLED"].contains(&op["state"].as_str().unwrap())
}

const FOLLOW: &str = r#"state progress { done total unit phase }
    result { __typename ... on BackupSet { id totalRows } }
    error { code message }"#;

async fn a_backup_of_a_million_hires_started_with_start_backup_returns_at_once_and_streams_its_progress(
    t: TestDb,
) {
    load_generated(&t, generated(1_000_000, 21, 2016, 2024)).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let started = admin(
        &schema,
        "mutation { startBackup { id state kind startedBy queuedAt } }",
    )
    .await["startBackup"]
        .clone();
    assert!(
        ["QUEUED", "RUNNING"].contains(&started["state"].as_str().unwrap()),
        "{started}"
    );
    // The work did not happen inside the request: no set is complete yet.
    assert_eq!(
        admin(&schema, "{ backups { id } }").await["backups"],
        json!([])
    );
    let id = started["id"].as_str().unwrap().to_owned();

    let events = follow_to_the_end(&schema, &id, FOLLOW).await;
    let done: Vec<u64> = events
        .iter()
        .map(|e| e["progress"]["done"].as_u64().unwrap())
        .collect();
    assert!(
        done.windows(2).all(|w| w[0] <= w[1]),
        "progress went back: {done:?}"
    );
    let running: Vec<u64> = events
        .iter()
        .filter(|e| e["state"] == "RUNNING")
        .map(|e| e["progress"]["done"].as_u64().unwrap())
        .collect();
    assert!(
        running.windows(2).any(|w| w[0] < w[1]),
        "no progress seen while running: {events:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["state"], "SUCCEEDED", "{last}");
    let rows = count_rows(&t.db, "hired_employees").await
        + count_rows(&t.db, "departments").await
        + count_rows(&t.db, "jobs").await;
    assert_eq!(last["result"]["__typename"], "BackupSet");
    assert_eq!(last["result"]["totalRows"].as_i64().unwrap(), rows);
    assert_eq!(last["progress"]["total"].as_i64().unwrap(), rows);

    let listed = admin(
        &schema,
        "{ operations(first: 5) { edges { node { id kind state startedBy } } } }",
    )
    .await;
    let node = &listed["operations"]["edges"][0]["node"];
    assert_eq!(node["id"], id.as_str());
    assert_eq!(node["kind"], "BACKUP");
    assert_eq!(node["state"], "SUCCEEDED");
    assert_eq!(node["startedBy"], "token:admin");
}

async fn cancelling_a_restore_leaves_the_data_unchanged_and_cancelling_a_backup_leaves_no_set(
    t: TestDb,
) {
    load_generated(&t, generated(500_000, 23, 2018, 2023)).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let set = admin(&schema, "mutation { backup { id } }").await["backup"]["id"].clone();
    admin(
        &schema,
        r#"mutation { insertDepartments(rows: [{ id: 9999, department: "After the backup" }]) { inserted } }"#,
    )
    .await;
    let before = (
        count_rows(&t.db, "departments").await,
        count_rows(&t.db, "hired_employees").await,
        common::stored_rollup(&t.db).await,
    );

    let restore = format!(r#"mutation {{ startRestore(backupId: {set}) {{ id }} }}"#);
    let id = admin(&schema, &restore).await["startRestore"]["id"].clone();
    let id = id.as_str().unwrap();
    wait_for(&schema, id, Duration::from_secs(60), |op| {
        op["state"] != "QUEUED"
    })
    .await;
    let cancelled = admin(
        &schema,
        &format!(r#"mutation {{ cancelOperation(id: "{id}") {{ cancelRequested }} }}"#),
    )
    .await;
    assert_eq!(cancelled["cancelOperation"]["cancelRequested"], true);
    let ended = wait_for(&schema, id, Duration::from_secs(60), is_final).await;
    assert_eq!(ended["state"], "CANCELLED", "{ended}");
    assert_eq!(ended["error"]["code"], "CANCELLED");
    let after = (
        count_rows(&t.db, "departments").await,
        count_rows(&t.db, "hired_employees").await,
        common::stored_rollup(&t.db).await,
    );
    assert!(before == after, "the cancelled restore changed the data");

    let id = admin(&schema, "mutation { startBackup { id } }").await["startBackup"]["id"].clone();
    let id = id.as_str().unwrap();
    wait_for(&schema, id, Duration::from_secs(60), |op| {
        op["progress"]["done"].as_u64().unwrap() > 0 || is_final(op)
    })
    .await;
    admin(
        &schema,
        &format!(r#"mutation {{ cancelOperation(id: "{id}") {{ id }} }}"#),
    )
    .await;
    let ended = wait_for(&schema, id, Duration::from_secs(60), is_final).await;
    assert_eq!(ended["state"], "CANCELLED", "{ended}");
    let sets: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(sets.len(), 1, "the cancelled backup left its partial set");
}

async fn operations_are_admin_only_and_unknown_ids_get_specific_errors(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mut state = t.state(AccessPolicy::new(
        Some(&SecretString::from(ADMIN.to_owned())),
        None,
        true,
    ));
    state.backups = Arc::new(Backups::new(Storage::local(dir.path())));
    let schema = build_schema(&state);
    for query in [
        "{ operations { edges { node { id } } } }",
        r#"{ operation(id: "1") { id } }"#,
        "mutation { startBackup { id } }",
        r#"mutation { cancelOperation(id: "1") { id } }"#,
    ] {
        for caller in [
            Caller::anonymous(None),
            Caller::service("api", Role::Editor),
        ] {
            let response = schema
                .execute(Request::new(query).data(caller.clone()))
                .await;
            let code = first_error_code(&serde_json::to_value(&response).unwrap());
            assert!(
                matches!(code.as_deref(), Some("UNAUTHENTICATED" | "FORBIDDEN")),
                "{query} as {caller:?}: {code:?}"
            );
        }
    }
    let mut stream = schema.execute_stream(
        Request::new(r#"subscription { operation(id: "1") { state } }"#)
            .data(Caller::anonymous(None)),
    );
    let refused = serde_json::to_value(stream.next().await.unwrap()).unwrap();
    assert_eq!(
        first_error_code(&refused).as_deref(),
        Some("UNAUTHENTICATED")
    );

    for (query, code) in [
        (
            r#"mutation { cancelOperation(id: "424242") { id } }"#,
            "OPERATION_NOT_FOUND",
        ),
        (
            r#"{ operation(id: "not-a-number") { id } }"#,
            "INVALID_OPERATION_ID",
        ),
        (
            "{ operations(first: 0) { edges { node { id } } } }",
            "PAGE_SIZE",
        ),
    ] {
        let response = schema
            .execute(Request::new(query).data(Caller::admin()))
            .await;
        let got = first_error_code(&serde_json::to_value(&response).unwrap());
        assert_eq!(got.as_deref(), Some(code), "{query}");
    }
    let missing = admin(&schema, r#"{ operation(id: "424242") { id } }"#).await;
    assert_eq!(missing["operation"], Value::Null);
}

async fn post(server: &Server, query: &str) -> Value {
    graphql_at(&server.address, Some(ADMIN), query).await
}

async fn operation_over_http(server: &Server, id: &str) -> Value {
    let query = format!(
        r#"{{ operation(id: "{id}") {{ state progress {{ done }} error {{ code message }} }} }}"#
    );
    post(server, &query).await["data"]["operation"].clone()
}

/// Starts a backup on `server` and waits until it has written rows; its id.
async fn start_backup_and_wait_for_progress(server: &Server) -> String {
    let started = post(server, "mutation { startBackup { id } }").await;
    let id = started["data"]["startBackup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while operation_over_http(server, &id).await["progress"]["done"].as_u64() == Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the backup never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

async fn killing_the_server_mid_backup_leaves_the_operation_failed_interrupted_after_restart(
    t: TestDb,
) {
    load_generated(&t, generated(500_000, 25, 2018, 2023)).await;
    let dir = tempfile::tempdir().unwrap();
    let backup_url = dir.path().display().to_string();
    let env = [("ADMIN_TOKEN", ADMIN), ("BACKUP_URL", backup_url.as_str())];
    let mut server = Server::start(&t.url, &env);
    let id = start_backup_and_wait_for_progress(&server).await;
    assert_eq!(operation_over_http(&server, &id).await["state"], "RUNNING");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let restarted = Server::start(&t.url, &env);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let now = operation_over_http(&restarted, &id).await;
        if now["state"] != "RUNNING" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "still RUNNING: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ended["state"], "FAILED", "{ended}");
    assert_eq!(ended["error"]["code"], "INTERRUPTED", "{ended}");
    let sets = post(&restarted, "{ backups { id } }").await;
    assert_eq!(
        sets["data"]["backups"],
        json!([]),
        "a partial set is listed"
    );
}

async fn a_stopping_server_cancels_the_operations_still_running_after_its_grace_period(t: TestDb) {
    load_generated(&t, generated(500_000, 29, 2018, 2023)).await;
    let dir = tempfile::tempdir().unwrap();
    let backup_url = dir.path().display().to_string();
    let env = [
        ("ADMIN_TOKEN", ADMIN),
        ("BACKUP_URL", backup_url.as_str()),
        ("SHUTDOWN_GRACE_SECONDS", "0"),
    ];
    let mut server = Server::start(&t.url, &env);
    let id = start_backup_and_wait_for_progress(&server).await;
    let (status, logs) = server.terminate();
    assert!(status.success(), "{status}: {}", logs.join("\n"));
    let schema = schema_with_backups(&t, dir.path());
    let ended = operation(&schema, &id).await;
    assert_eq!(ended["state"], "CANCELLED", "{ended}");
    let sets: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(sets.is_empty(), "the cancelled backup left its partial set");
}

async fn cli_runs_are_recorded_as_started_by_the_cli_user(t: TestDb) {
    load_generated(&t, generated(500, 27, 2021, 2021)).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        common::succeeded(
            binary()
                .args(args)
                .env("DATABASE_URL", &t.url)
                .env("BACKUP_URL", dir.path())
                .env("USER", "ops-alice"),
        )
    };
    let set: Value = serde_json::from_slice(&run(&["backup", "--json"])).unwrap();
    run(&["verify", set["id"].as_str().unwrap()]);

    let schema = schema_with_backups(&t, dir.path());
    let listed = admin(
        &schema,
        "{ operations { edges { node { kind state startedBy parameters
            result { ... on BackupSet { id } ... on BackupVerification { rowsChecked } } } } } }",
    )
    .await;
    let nodes: Vec<&Value> = listed["operations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(nodes.len(), 2, "{listed}");
    assert_eq!(nodes[0]["kind"], "VERIFY");
    assert_eq!(nodes[0]["parameters"]["id"], set["id"]);
    assert_eq!(nodes[1]["kind"], "BACKUP");
    assert_eq!(nodes[1]["result"]["id"], set["id"]);
    for node in nodes {
        assert_eq!(node["state"], "SUCCEEDED");
        assert_eq!(node["startedBy"], "cli:ops-alice");
    }
}

async fn follow_to_the_end(schema: &AppSchema, id: &str, fields: &str) -> Vec<Value> {
    let subscription = format!(r#"subscription {{ operation(id: "{id}") {{ {fields} }} }}"#);
    schema
        .execute_stream(Request::new(subscription).data(Caller::admin()))
        .map(|response| {
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            response.data.into_json().unwrap()["operation"].clone()
        })
        .collect::<Vec<_>>()
        .await
}

async fn an_import_and_a_verification_started_as_operations_end_with_their_results(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let csv = dir.path().join("departments.csv");
    let body: String = (1..=2_000)
        .map(|i| format!("{i},Department {i}\n"))
        .collect();
    std::fs::write(&csv, &body).unwrap();
    let request = Request::new(
        "mutation($file: Upload!) { startImportCsv(table: DEPARTMENTS, file: $file) { id kind state parameters } }",
    )
    .data(Caller::admin());
    let request = common::with_upload(
        request,
        "departments.csv",
        std::fs::File::open(&csv).unwrap(),
    );
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let started = response.data.into_json().unwrap()["startImportCsv"].clone();
    assert_eq!(started["kind"], "IMPORT");
    assert_eq!(started["parameters"]["file"], "departments.csv");
    let fields =
        "state progress { done total unit } result { ... on ImportSummary { table inserted } }";
    let events = follow_to_the_end(&schema, started["id"].as_str().unwrap(), fields).await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "SUCCEEDED", "{last}");
    assert_eq!(last["result"]["inserted"], 2_000);
    assert_eq!(last["progress"]["unit"], "bytes");
    assert_eq!(last["progress"]["total"].as_u64(), Some(body.len() as u64));
    assert_eq!(last["progress"]["done"].as_u64(), Some(body.len() as u64));
    assert_eq!(count_rows(&t.db, "departments").await, 2_000);

    let set = admin(&schema, "mutation { backup(tables: [DEPARTMENTS]) { id } }").await;
    let set = set["backup"]["id"].as_str().unwrap().to_owned();
    let verify = format!(r#"mutation {{ startVerifyBackup(id: "{set}") {{ id }} }}"#);
    let id = admin(&schema, &verify).await["startVerifyBackup"]["id"].clone();
    let fields =
        "state error { code } result { ... on BackupVerification { rowsChecked backup { id } } }";
    let events = follow_to_the_end(&schema, id.as_str().unwrap(), fields).await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "SUCCEEDED", "{last}");
    assert_eq!(last["result"]["rowsChecked"], 2_000);
    assert_eq!(last["result"]["backup"]["id"], set.as_str());

    let missing = r#"mutation { startVerifyBackup(id: "20990101T000000Z-dead") { id } }"#;
    let id = admin(&schema, missing).await["startVerifyBackup"]["id"].clone();
    let events = follow_to_the_end(&schema, id.as_str().unwrap(), "state error { code }").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "FAILED");
    assert_eq!(last["error"]["code"], "BACKUP_NOT_FOUND");
}

db_tests!(
    an_import_and_a_verification_started_as_operations_end_with_their_results,
    a_backup_of_a_million_hires_started_with_start_backup_returns_at_once_and_streams_its_progress,
    cancelling_a_restore_leaves_the_data_unchanged_and_cancelling_a_backup_leaves_no_set,
    operations_are_admin_only_and_unknown_ids_get_specific_errors,
    killing_the_server_mid_backup_leaves_the_operation_failed_interrupted_after_restart,
    cli_runs_are_recorded_as_started_by_the_cli_user,
    a_stopping_server_cancels_the_operations_still_running_after_its_grace_period,
);
