//! The built binary: flags, help, migrate, schema, and serve's lifecycle.

mod common;

use std::{process::Command, time::Duration};

use common::{Server, TestDb};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

const SECRET: &str = "super-secret-admin-token-42";

fn command() -> Command {
    common::binary()
}

#[test]
fn version_prints_the_package_version() {
    let output = command().arg("--version").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("hiring-analytics {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_subcommands_and_settings_without_secret_values() {
    let output = command()
        .args(["serve", "--help"])
        .env("ADMIN_TOKEN", SECRET)
        .env("API_TOKEN", SECRET)
        .env("DATABASE_URL", format!("postgres://app:{SECRET}@db/hiring"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in [
        "DATABASE_URL",
        "BIND",
        "LOG_FORMAT",
        "RUST_LOG",
        "ADMIN_TOKEN",
        "API_TOKEN",
        "BODY_LIMIT",
        "MAX_QUERY_DEPTH",
        "MAX_QUERY_COMPLEXITY",
        "--insecure",
    ] {
        assert!(help.contains(setting), "--help lacks {setting}:\n{help}");
    }
    assert!(!help.contains(SECRET), "--help shows a secret:\n{help}");

    let output = command().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for subcommand in ["serve", "migrate", "schema"] {
        assert!(help.contains(subcommand), "--help lacks {subcommand}");
    }
}

#[test]
fn an_empty_token_is_refused_with_a_usage_error() {
    let output = command()
        .args(["serve", "--admin-token", " "])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ADMIN_TOKEN is set but empty"));
}

#[test]
fn serve_refuses_a_non_loopback_address_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let output = command()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display()),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--insecure") && stderr.contains("ADMIN_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn migrate_reports_an_unreachable_database_without_its_password() {
    let output = command()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://app:{SECRET}@127.0.0.1:1/hiring"),
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET), "{stderr}");
}

async fn table_names(t: &TestDb) -> Vec<String> {
    let sql = match t.db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    t.db.query_all_raw(Statement::from_string(t.db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn migrate_creates_every_table(t: TestDb) {
    assert!(
        !table_names(&t)
            .await
            .contains(&"hired_employees".to_owned())
    );
    common::succeeded(command().arg("migrate").env("DATABASE_URL", &t.url));
    let tables = table_names(&t).await;
    for table in ["departments", "jobs", "hired_employees", "rejected_rows"] {
        assert!(tables.contains(&table.to_owned()), "{tables:?}");
    }
    // A second run has nothing to do and still succeeds.
    let output = command()
        .arg("migrate")
        .env("DATABASE_URL", &t.url)
        .output()
        .unwrap();
    assert!(output.status.success());
}

/// POSTs a GraphQL query to a running server and returns its JSON answer.
async fn post_query(client: &reqwest::Client, base: &str, query: &str) -> serde_json::Value {
    client
        .post(format!("{base}/graphql"))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn serve_migrates_answers_and_stops_cleanly_on_sigterm(t: TestDb) {
    let mut server = Server::start(&t.url, &[("ADMIN_TOKEN", SECRET)]);
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.address);
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let playground = client.get(format!("{base}/graphql")).send().await.unwrap();
    assert!(playground.text().await.unwrap().contains("graphiql"));
    let answer = post_query(&client, &base, "{ departments { id department } }").await;
    assert_eq!(answer, serde_json::json!({ "data": { "departments": [] } }));
    // The container health check asks the same endpoint.
    let check = common::binary()
        .args(["healthcheck", "--bind", &server.address])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let (status, logs) = server.terminate();
    let down = common::binary()
        .args([
            "healthcheck",
            "--bind",
            &server.address,
            "--timeout-seconds",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("did not answer"));
    assert!(status.success(), "exit status {status:?}");
    let logs = logs.join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(SECRET), "a secret reached the log:\n{logs}");
}

async fn serve_demo_loads_demo_data_into_an_empty_database_once(t: TestDb) {
    let mut server = Server::start_with(&t.url, &[], &["--demo"]);
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.address);
    let answer = post_query(&client, &base, "{ departments { id } jobs { id } }").await;
    assert_eq!(
        answer["data"]["departments"].as_array().unwrap().len(),
        12,
        "{answer}"
    );
    assert_eq!(answer["data"]["jobs"].as_array().unwrap().len(), 183);
    let (status, logs) = server.terminate();
    assert!(status.success(), "{status:?}\n{}", logs.join("\n"));
    let hires = common::count_rows(&t.db, "hired_employees").await;
    assert!(hires > 2_500, "{hires} demo hires");

    // A second start finds data and loads nothing more.
    let mut server = Server::start_with(&t.url, &[], &["--demo"]);
    let (status, logs) = server.terminate();
    assert!(status.success());
    assert_eq!(common::count_rows(&t.db, "hired_employees").await, hires);
    assert!(logs.join("\n").contains("nothing loaded"), "{logs:?}");
}

async fn sigterm_lets_an_in_flight_request_finish(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let generated = command()
        .args(["generate", "--hires", "400000", "--seed", "8", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(generated.status.success());
    let mut server = Server::start(&t.url, &[("ADMIN_TOKEN", SECRET)]);
    let base = format!("http://{}", server.address);
    let client = reqwest::Client::new();
    let upload = |table: &'static str, file: &'static str| {
        let client = client.clone();
        let base = base.clone();
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        async move {
            let form = reqwest::multipart::Form::new()
                .text(
                    "operations",
                    format!(
                        r#"{{"query":"mutation($f: Upload!) {{ importCsv(table: {table}, file: $f) {{ inserted }} }}","variables":{{"f":null}}}}"#
                    ),
                )
                .text("map", r#"{"0":["variables.f"]}"#)
                .part("0", reqwest::multipart::Part::bytes(bytes).file_name(file));
            client
                .post(format!("{base}/graphql"))
                .bearer_auth(SECRET)
                .multipart(form)
                .send()
                .await
        }
    };
    for (table, file) in [("DEPARTMENTS", "departments.csv"), ("JOBS", "jobs.csv")] {
        let response = upload(table, file).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // A long import is under way when SIGTERM arrives; it must still complete.
    let in_flight = tokio::spawn(upload("HIRED_EMPLOYEES", "hired_employees.csv"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["importCsv"]["inserted"], 400_000, "{body}");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(common::count_rows(&t.db, "hired_employees").await, 400_000);
}

db_tests!(
    empty:
    sigterm_lets_an_in_flight_request_finish,
    migrate_creates_every_table,
    serve_migrates_answers_and_stops_cleanly_on_sigterm,
    serve_demo_loads_demo_data_into_an_empty_database_once,
);
