//! GraphQL subscriptions over `graphql-transport-ws` with a real client: npm
//! `graphql-ws` on `ws` (pinned in `tests/clients/package-lock.json`), run by
//! Node against the built server on both backends. `tests/clients/subscribe.mjs`
//! follows `dataChanged` through two inserts, a backup through `operation(id)`
//! to its end, and is refused with an API token or an unknown one; it prints a
//! summary of its checks that this test reads.
//!
//! Without Node or the installed packages (`npm ci --prefix tests/clients`)
//! the test is skipped with a notice; when `CI` is set it fails instead.

mod common;

use std::{path::Path, process::Command};

use common::{Server, TestDb, count_rows, node_clients};
use serde_json::Value;

const ADMIN_TOKEN: &str = "graphql-ws-admin-token";
const API_TOKEN: &str = "graphql-ws-api-token";

/// Runs `subscribe.mjs` against `url` and returns its summary, failing with
/// every failed check (and Node's stderr) when it reports one.
fn run_subscribe(dir: &Path, url: &str) -> Value {
    let output = Command::new("node")
        .arg(dir.join("subscribe.mjs"))
        .args([url, ADMIN_TOKEN, API_TOKEN])
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("subscribe.mjs printed no summary:\n{stdout}\n{stderr}"));
    let failed: Vec<String> = summary["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["ok"] != true)
        .map(Value::to_string)
        .collect();
    assert!(
        failed.is_empty() && output.status.success(),
        "subscribe.mjs failed {} check(s):\n{}\n\nsummary: {summary}\n{stderr}",
        failed.len(),
        failed.join("\n")
    );
    summary
}

async fn an_npm_graphql_ws_client_receives_data_changes_and_operation_progress(t: TestDb) {
    let Some(clients) = node_clients(&["graphql-ws", "ws"]) else {
        return;
    };
    let backups = tempfile::tempdir().unwrap();
    let server = Server::start(
        &t.url,
        &[
            ("DEMO", "true"),
            ("ADMIN_TOKEN", ADMIN_TOKEN),
            ("API_TOKEN", API_TOKEN),
            ("BACKUP_URL", backups.path().to_str().unwrap()),
        ],
    );
    let url = format!("http://{}/graphql", server.address);
    let summary = run_subscribe(&clients, &url);

    let changes = summary["dataChanged"].as_array().unwrap();
    assert!(changes.len() >= 3, "{summary}");
    let mut stored = 0;
    for table in ["departments", "jobs", "hired_employees"] {
        stored += count_rows(&t.db, table).await;
    }
    let backup = &summary["backup"];
    assert_eq!(backup["totalRows"], stored, "{summary}");
    let set = backups.path().join(backup["id"].as_str().unwrap());
    assert!(set.join("manifest.json").is_file(), "no set at {set:?}");
    assert_eq!(summary["unknownTokenClose"], 4403, "{summary}");
}

db_tests!(an_npm_graphql_ws_client_receives_data_changes_and_operation_progress);
