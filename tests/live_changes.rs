//! `dataChanged`: one event after each committed change, on SQLite and
//! PostgreSQL, through the schema and over real WebSockets, across two
//! server processes on one PostgreSQL database.

mod common;
#[path = "common/ws.rs"]
mod ws;

use std::time::Duration;

use async_graphql::Request;
use common::{
    Backend, Server, TestDb, admin, generated, graphql_at, load_generated, schema_with_backups,
};
use futures_util::{Stream, StreamExt};
use hiring_analytics::{auth::Caller, build_schema, service::changes::ChangeFeed};
use serde_json::{Value, json};
use ws::WsClient;

const SUBSCRIBE: &str = "subscription { dataChanged { asOf tables version } }";
const WAIT: Duration = Duration::from_secs(10);

async fn next_event(events: &mut (impl Stream<Item = async_graphql::Response> + Unpin)) -> Value {
    let response = tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream goes on");
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()["dataChanged"].clone()
}

async fn no_event_for(
    events: &mut (impl Stream<Item = async_graphql::Response> + Unpin),
    quiet: Duration,
) {
    if let Ok(event) = tokio::time::timeout(quiet, events.next()).await {
        panic!("expected no event, got {event:?}");
    }
}

fn tables(event: &Value) -> Vec<String> {
    event["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

const INSERT_DEPARTMENT: &str =
    r#"mutation { insertDepartments(rows: [{ id: 900, department: "Live" }]) { inserted } }"#;

async fn the_first_event_is_the_current_state_and_an_insert_brings_the_next(t: TestDb) {
    load_generated(&t, generated(200, 3, 2021, 2021)).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let mut events = schema.execute_stream(Request::new(SUBSCRIBE).data(Caller::admin()));
    let first = next_event(&mut events).await;
    assert_eq!(tables(&first), ["DEPARTMENTS", "JOBS", "HIRED_EMPLOYEES"]);
    let as_of = admin(&schema, "{ reportsAsOf }").await["reportsAsOf"].clone();
    assert_eq!(first["asOf"], as_of);

    admin(&schema, INSERT_DEPARTMENT).await;
    let second = next_event(&mut events).await;
    assert_eq!(tables(&second), ["DEPARTMENTS"]);
    assert_ne!(second["version"], first["version"]);

    let hire = r#"mutation { insertHiredEmployees(rows: [{ id: 90001, name: "Ada",
        hireDatetime: "2021-05-01T10:00:00Z", departmentId: 900, jobId: 1 }]) { inserted } }"#;
    admin(&schema, hire).await;
    let third = next_event(&mut events).await;
    assert_eq!(tables(&third), ["HIRED_EMPLOYEES"]);
    // The event comes after the commit: a reader sees the hire and the new asOf.
    let read = admin(
        &schema,
        r#"{ reportsAsOf hiredEmployee(id: 90001) { name } }"#,
    )
    .await;
    assert_eq!(third["asOf"], read["reportsAsOf"]);
    assert_eq!(read["hiredEmployee"]["name"], "Ada");
}

async fn a_csv_import_brings_an_event_naming_its_table(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let mut events = schema.execute_stream(Request::new(SUBSCRIBE).data(Caller::admin()));
    next_event(&mut events).await;
    let csv = dir.path().join("jobs.csv");
    std::fs::write(&csv, "1,Engineer\n2,Analyst\n").unwrap();
    let request = Request::new(
        "mutation($file: Upload!) { importCsv(table: JOBS, file: $file) { inserted } }",
    )
    .data(Caller::admin());
    let request = common::with_upload(request, "jobs.csv", std::fs::File::open(&csv).unwrap());
    let response = schema.execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let event = next_event(&mut events).await;
    assert_eq!(tables(&event), ["JOBS"]);
}

async fn a_restore_brings_an_event_and_rolled_back_writes_bring_none(t: TestDb) {
    load_generated(&t, generated(300, 5, 2021, 2021)).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_with_backups(&t, dir.path());
    let backup = admin(&schema, "mutation { backup { id } }").await;
    let id = backup["backup"]["id"].as_str().unwrap().to_owned();
    let mut events = schema.execute_stream(Request::new(SUBSCRIBE).data(Caller::admin()));
    next_event(&mut events).await;

    // Rolled back: a dry-run restore, and a batch whose every row is refused.
    admin(
        &schema,
        &format!(r#"mutation {{ restore(backupId: "{id}", dryRun: true) {{ dryRun }} }}"#),
    )
    .await;
    let refused = r#"mutation { insertHiredEmployees(rows: [{ id: 1, name: "Dup",
        hireDatetime: "2021-05-01T10:00:00Z", departmentId: 424242, jobId: 1 }]) { inserted rejected { code } } }"#;
    let report = admin(&schema, refused).await;
    assert_eq!(report["insertHiredEmployees"]["inserted"], 0);
    no_event_for(&mut events, Duration::from_secs(1)).await;

    admin(
        &schema,
        &format!(r#"mutation {{ restore(backupId: "{id}", tables: [JOBS]) {{ dryRun }} }}"#),
    )
    .await;
    let event = next_event(&mut events).await;
    assert_eq!(tables(&event), ["JOBS"]);
}

async fn a_reconnecting_client_gets_the_current_as_of_first(t: TestDb) {
    load_generated(&t, generated(100, 7, 2021, 2021)).await;
    let mut server = Server::start(&t.url, &[]);
    let mut client = WsClient::connect(&server.address, None).await.unwrap();
    client.subscribe(SUBSCRIBE).await;
    let before = client.next_data(WAIT).await["dataChanged"].clone();
    client.close().await;

    let hire = r#"mutation { insertHiredEmployees(rows: [{ id: 777001, name: "Back",
        hireDatetime: "2021-09-01T10:00:00Z", departmentId: 1, jobId: 1 }]) { inserted } }"#;
    let inserted = graphql_at(&server.address, None, hire).await;
    assert_eq!(
        inserted["data"]["insertHiredEmployees"]["inserted"], 1,
        "{inserted}"
    );

    let mut again = WsClient::connect(&server.address, None).await.unwrap();
    again.subscribe(SUBSCRIBE).await;
    let first = again.next_data(WAIT).await["dataChanged"].clone();
    assert_ne!(first["version"], before["version"]);
    assert_ne!(first["asOf"], before["asOf"]);
    let as_of = graphql_at(&server.address, None, "{ reportsAsOf }").await;
    assert_eq!(first["asOf"], as_of["data"]["reportsAsOf"]);

    // A stopping server closes its subscriptions (going away) rather than
    // waiting on them, and exits cleanly.
    let (status, _) = server.terminate();
    assert!(status.success(), "{status}");
    // (The insert's own event may still come first: it is announced after its response.)
    loop {
        match again.next(WAIT).await {
            Some(ws::Event::Closed(code, _)) => break assert_eq!(code, 1001),
            Some(ws::Event::Next(..)) => continue,
            other => panic!("expected the server to close the socket, got {other:?}"),
        }
    }
}

/// With `DATABASE_READ_URL`, readers read the replica: an event waits until
/// the replica shows the change (here the "replica" is a second database that
/// the test brings up to date by hand, as replication would).
async fn with_a_read_replica_an_event_waits_until_the_replica_shows_the_change(t: TestDb) {
    let replica = TestDb::new(t.backend).await.unwrap();
    let mut state = t.local_state();
    state.read_db = replica.db.clone();
    state.changes =
        ChangeFeed::with_replica(t.db.clone(), replica.db.clone(), Duration::from_millis(50));
    let schema = build_schema(&state);
    let mut events = schema.execute_stream(Request::new(SUBSCRIBE).data(Caller::admin()));
    let first = next_event(&mut events).await;

    admin(&schema, INSERT_DEPARTMENT).await;
    no_event_for(&mut events, Duration::from_secs(1)).await;
    let replicated = build_schema(&replica.local_state());
    admin(&replicated, INSERT_DEPARTMENT).await;
    let event = next_event(&mut events).await;
    assert_eq!(tables(&event), ["DEPARTMENTS"]);
    assert_ne!(event["version"], first["version"]);
    let read = admin(&schema, "{ departments { id } }").await;
    assert_eq!(read["departments"], json!([{ "id": 900 }]));
}

db_tests!(
    with_a_read_replica_an_event_waits_until_the_replica_shows_the_change,
    the_first_event_is_the_current_state_and_an_insert_brings_the_next,
    a_csv_import_brings_an_event_naming_its_table,
    a_restore_brings_an_event_and_rolled_back_writes_bring_none,
    a_reconnecting_client_gets_the_current_as_of_first,
);

/// Two servers on one PostgreSQL database: a change made through either
/// reaches the subscribers of both (LISTEN/NOTIFY). SQLite has one server
/// process per database file, so this is PostgreSQL's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_deliver_each_others_changes() {
    let Some(t) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    load_generated(&t, generated(100, 9, 2021, 2021)).await;
    let first = Server::start(&t.url, &[]);
    let second = Server::start(&t.url, &[]);
    let mut on_first = WsClient::connect(&first.address, None).await.unwrap();
    let mut on_second = WsClient::connect(&second.address, None).await.unwrap();
    on_first.subscribe(SUBSCRIBE).await;
    on_second.subscribe(SUBSCRIBE).await;
    on_first.next_data(WAIT).await;
    on_second.next_data(WAIT).await;

    let insert = |id: u32| {
        format!(
            r#"mutation {{ insertJobs(rows: [{{ id: {id}, job: "Job {id}" }}]) {{ inserted }} }}"#
        )
    };
    graphql_at(&first.address, None, &insert(5001)).await;
    for client in [&mut on_first, &mut on_second] {
        let event = client.next_data(WAIT).await["dataChanged"].clone();
        assert_eq!(tables(&event), ["JOBS"]);
    }
    graphql_at(&second.address, None, &insert(5002)).await;
    for client in [&mut on_first, &mut on_second] {
        let event = client.next_data(WAIT).await["dataChanged"].clone();
        assert_eq!(tables(&event), ["JOBS"]);
    }
}

fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

async fn metrics_text(server: &Server) -> String {
    reqwest::get(format!("http://{}/metrics", server.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Tokens, subscriptions per connection, connections per client and the idle
/// timeout are enforced, and counted in `/metrics`.
async fn websocket_limits_refuse_bad_tokens_extra_subscriptions_and_connections_and_close_idle_ones(
    t: TestDb,
) {
    let server = Server::start(
        &t.url,
        &[
            ("ADMIN_TOKEN", "admin-token-live-limits-0123456789"),
            ("WS_MAX_SUBSCRIPTIONS_PER_CONNECTION", "1"),
            ("WS_MAX_CONNECTIONS_PER_CLIENT", "2"),
            ("WS_IDLE_TIMEOUT_SECONDS", "2"),
        ],
    );
    let refused = WsClient::connect(&server.address, Some("not-the-token")).await;
    match refused {
        Err(closed) => assert_eq!(closed, ws::Event::Closed(4403, "Forbidden".into())),
        Ok(_) => panic!("a bad token was accepted"),
    }

    let mut client = WsClient::connect(&server.address, None).await.unwrap();
    let first = client.subscribe(SUBSCRIBE).await;
    client.next_data(WAIT).await;
    client.subscribe(SUBSCRIBE).await;
    match client.next(WAIT).await {
        Some(ws::Event::Next(_, payload)) => assert_eq!(
            payload["errors"][0]["extensions"]["code"],
            "TOO_MANY_SUBSCRIPTIONS"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let metrics = metrics_text(&server).await;
    assert_eq!(
        metric(&metrics, "hiring_analytics_websocket_connections"),
        1.0
    );
    assert_eq!(
        metric(&metrics, "hiring_analytics_subscriptions_active"),
        1.0
    );

    let _second = ws::open(&server.address).await.unwrap();
    match ws::open(&server.address).await {
        Err(refused) => assert!(refused.contains("429"), "{refused}"),
        Ok(_) => panic!("a third connection from one client was accepted"),
    }

    // With its subscription completed, the connection is idle and closed.
    client.complete(&first).await;
    let closed = loop {
        match client.next(Duration::from_secs(10)).await {
            Some(ws::Event::Closed(code, _)) => break code,
            Some(_) => continue,
            None => panic!("the idle connection stayed open"),
        }
    };
    assert_eq!(closed, 1000);
    let metrics = metrics_text(&server).await;
    for reason in [
        "too_many_connections",
        "too_many_subscriptions",
        "unauthenticated",
        "idle_timeout",
    ] {
        let name = format!("hiring_analytics_websocket_refusals_total{{reason=\"{reason}\"}}");
        assert!(metric(&metrics, &name) >= 1.0, "{name}");
    }
}

db_tests!(
    websocket_limits_refuse_bad_tokens_extra_subscriptions_and_connections_and_close_idle_ones,
);

/// Over WebSocket as over HTTP, `PERSISTED_QUERIES=only` runs only the
/// registered documents.
async fn trusted_documents_apply_to_subscriptions_too(t: TestDb) {
    let documents = tempfile::tempdir().unwrap();
    std::fs::write(documents.path().join("live.graphql"), SUBSCRIBE).unwrap();
    let dir = documents.path().display().to_string();
    let server = Server::start(
        &t.url,
        &[
            ("PERSISTED_QUERIES", "only"),
            ("PERSISTED_QUERIES_DIR", dir.as_str()),
        ],
    );
    let mut client = WsClient::connect(&server.address, None).await.unwrap();
    client.subscribe(SUBSCRIBE).await;
    let first = client.next_data(WAIT).await;
    assert!(first["dataChanged"]["version"].is_string(), "{first}");
    client
        .subscribe("subscription { dataChanged { version } }")
        .await;
    match client.next(WAIT).await {
        Some(ws::Event::Next(_, payload)) => assert_eq!(
            payload["errors"][0]["extensions"]["code"],
            "PERSISTED_QUERY_NOT_IN_LIST"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

db_tests!(trusted_documents_apply_to_subscriptions_too);

/// A CLI import reaches a running server's subscribers: by NOTIFY on
/// PostgreSQL; on SQLite the server notices the file changed.
async fn a_cli_import_reaches_a_running_servers_subscribers(t: TestDb) {
    let server = Server::start(&t.url, &[]);
    let mut client = WsClient::connect(&server.address, None).await.unwrap();
    client.subscribe(SUBSCRIBE).await;
    let first = client.next_data(WAIT).await["dataChanged"].clone();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("departments.csv");
    std::fs::write(&csv, "1,Research\n2,Sales\n").unwrap();
    common::succeeded(
        common::binary()
            .args(["import", "--departments"])
            .arg(&csv)
            .env("DATABASE_URL", &t.url),
    );
    let event = client.next_data(WAIT).await["dataChanged"].clone();
    assert!(
        tables(&event).contains(&"DEPARTMENTS".to_owned()),
        "{event}"
    );
    assert_ne!(event["version"], first["version"]);
}

db_tests!(a_cli_import_reaches_a_running_servers_subscribers);

/// Operations sent over an open socket count against the client's HTTP rate limit.
async fn operations_over_a_websocket_count_against_the_clients_rate_limit(t: TestDb) {
    let server = Server::start(
        &t.url,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    );
    // The upgrade is one request; two subscriptions fit the burst, the third does not.
    let mut client = WsClient::connect(&server.address, None).await.unwrap();
    for _ in 0..2 {
        client.subscribe(SUBSCRIBE).await;
        client.next_data(WAIT).await;
    }
    client.subscribe(SUBSCRIBE).await;
    match client.next(WAIT).await {
        Some(ws::Event::Next(_, payload)) => {
            assert_eq!(payload["errors"][0]["extensions"]["code"], "RATE_LIMITED")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

db_tests!(operations_over_a_websocket_count_against_the_clients_rate_limit);
