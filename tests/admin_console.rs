//! The admin console and the live dashboard in headless Chromium, against the
//! built server on demo data, on SQLite and on PostgreSQL: a backup run from
//! `/admin` to done with its progress shown live over the `operation`
//! subscription, a dry-run restore of it, a dashboard that refreshes by
//! itself when a hire is stored (the `dataChanged` subscription), and a
//! dashboard that asks for a token where anonymous callers have no role and
//! shows the reports once one is pasted; both pages showing who is signed in
//! as the server's `me` query answers, and the console turning away a token
//! without the admin role before any admin query.
//!
//! Without Chromium the tests are skipped with a notice; when `CI` is set they
//! fail instead (`.ci/run` installs Debian's `chromium`).

mod common;
#[path = "common/devtools.rs"]
mod devtools;

use std::time::Duration;

use common::{Server, TestDb, graphql_at};
use devtools::{Browser, chromium};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ADMIN_TOKEN: &str = "admin-token-for-the-console-test";

/// A valid token without the admin role (`API_TOKEN`: `token:api`, editor).
const EDITOR_TOKEN: &str = "editor-token-for-the-console-test";

/// Where the console keeps the token (in this tab's session storage).
const TOKEN_KEY: &str = "hiring-analytics.admin-token";

/// A server on `t` with the demo data, the admin and editor tokens and a backup folder.
fn serve_demo(t: &TestDb, backups: &std::path::Path) -> Server {
    let backup_url = backups.display().to_string();
    Server::start_with(
        &t.url,
        &[
            ("ADMIN_TOKEN", ADMIN_TOKEN),
            ("API_TOKEN", EDITOR_TOKEN),
            ("BACKUP_URL", &backup_url),
        ],
        &["--demo"],
    )
}

/// POSTs `query` to the server with the admin token; fails on any error.
async fn admin_graphql(server: &Server, query: &str) -> Value {
    let answer = graphql_at(&server.address, Some(ADMIN_TOKEN), query).await;
    assert_eq!(answer["errors"], Value::Null, "{query}: {answer}");
    answer["data"].clone()
}

/// Installs the TLS library reqwest needs (ours, aws-lc-rs) before the
/// first HTTP client is made; reqwest has no built-in one in this build.
fn install_tls_provider() {}

/// A demo server with its backup folder, and a headless Chromium to drive it.
struct Console {
    server: Server,
    /// The server's base URL, e.g. `http://127.0.0.1:41234`.
    base: String,
    browser: Browser,
    backups: tempfile::TempDir,
}

/// Starts a [`Console`] on `t`, or `None` without Chromium (outside CI).
fn open_console(t: &TestDb) -> Option<Console> {
    let chromium = chromium()?;
    install_tls_provider();
    let backups = tempfile::tempdir().unwrap();
    let server = serve_demo(t, backups.path());
    let base = format!("http://{}", server.address);
    let browser = Browser::launch(&chromium);
    Some(Console {
        server,
        base,
        browser,
        backups,
    })
}

/// `n` as the pages show counts: with thousands separators (en-US).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// JavaScript: the row of the newest operation of `kind` in the console.
fn operation_row(kind: &str) -> String {
    format!("document.querySelector('#operations tr[data-kind={kind}]')")
}

/// JavaScript: how many requests the page has POSTed to `/graphql`.
const GRAPHQL_REQUESTS: &str = "performance.getEntriesByType('resource')\
    .filter((e) => e.name.endsWith('/graphql')).length";

/// Opens `/admin`, is refused with a wrong token, is told that an editor's
/// token is not enough, and signs in by typing the right one.
fn sign_in(browser: &mut Browser, base: &str) {
    browser.navigate(&format!("{base}/admin"));
    browser.wait_for(
        "the sign-in form",
        "!document.getElementById('sign-in').hidden",
    );
    browser.type_into("#token", "not-the-admin-token");
    browser.click("#sign-in-button");
    let refused = browser.wait_for(
        "the wrong token to be refused",
        "!document.getElementById('error').hidden && !document.getElementById('sign-in').hidden && \
         document.getElementById('error').dataset.code",
    );
    assert!(
        ["UNAUTHENTICATED", "FORBIDDEN"].contains(&refused.as_str().unwrap()),
        "{refused}"
    );
    let forgotten = browser.evaluate(&format!("sessionStorage.getItem('{TOKEN_KEY}')"));
    assert_eq!(forgotten, Value::Null, "a refused token is not kept");

    // A valid token of a lower role: `me` says who it is, and the console
    // says what it needs before trying any admin query.
    browser.evaluate("document.getElementById('error').hidden = true");
    browser.type_into("#token", EDITOR_TOKEN);
    browser.click("#sign-in-button");
    let not_admin = browser.wait_for(
        "the editor's token to be turned away",
        &format!(
            "!document.getElementById('error').hidden && !document.getElementById('sign-in').hidden && \
             ({{ error: document.getElementById('error').innerText, \
                console: document.getElementById('console').hidden, \
                identity: document.getElementById('identity').hidden, \
                session: sessionStorage.getItem('{TOKEN_KEY}'), \
                requests: {GRAPHQL_REQUESTS} }})"
        ),
    );
    assert_eq!(
        not_admin["error"],
        "This console needs the admin role: token:api has the editor role. \
         Sign in with an admin token or a JWT with the admin role. [FORBIDDEN]",
        "{not_admin}"
    );
    assert_eq!(not_admin["console"], true, "{not_admin}");
    assert_eq!(not_admin["identity"], true, "{not_admin}");
    assert_eq!(not_admin["session"], Value::Null, "{not_admin}");
    // One `me` for each token typed so far, and nothing else.
    assert_eq!(not_admin["requests"], 2, "{not_admin}");

    browser.type_into("#token", ADMIN_TOKEN);
    browser.click("#sign-in-button");
    browser.wait_for(
        "both lists to load",
        "!document.getElementById('console').hidden && \
         !document.getElementById('backups').innerText.includes('Loading…') && \
         !document.getElementById('operations').innerText.includes('Loading…')",
    );
    let kept = browser.evaluate(&format!(
        "({{ session: sessionStorage.getItem('{TOKEN_KEY}'), local: localStorage.length, \
           url: location.href, field: document.getElementById('token').value, \
           identity: document.getElementById('identity').innerText, \
           error: document.getElementById('error').hidden }})"
    ));
    assert_eq!(
        kept["identity"], "Signed in as token:admin · admin",
        "{kept}"
    );
    assert_eq!(kept["error"], true, "the refusal is still shown: {kept}");
    assert_eq!(kept["session"], ADMIN_TOKEN, "{kept}");
    assert_eq!(kept["local"], 0, "{kept}");
    assert_eq!(kept["url"], format!("{base}/admin"), "{kept}");
    assert_eq!(kept["field"], "", "{kept}");
}

/// Starts a backup from the console and waits for its row to show it done;
/// returns the backup set's id.
fn run_backup(browser: &mut Browser) -> String {
    browser.click("#start-backup");
    let row = operation_row("BACKUP");
    let succeeded = browser.wait_for(
        "the backup's progress bar to reach done and its state SUCCEEDED",
        &format!(
            "(() => {{ const row = {row}; if (!row || row.dataset.state !== 'SUCCEEDED') return null; \
               const bar = row.querySelector('progress'); \
               return {{ max: bar.max, value: bar.value, label: row.querySelector('[data-field=progress]').innerText, \
                        startedBy: row.querySelector('[data-field=started-by]').innerText, \
                        finishedAt: row.querySelector('[data-field=finished-at] time')?.dateTime, \
                        result: row.querySelector('[data-field=result]').innerText }}; }})()"
        ),
    );
    assert!(succeeded["max"].as_f64().unwrap() > 0.0, "{succeeded}");
    assert_eq!(succeeded["value"], succeeded["max"], "{succeeded}");
    assert_eq!(succeeded["startedBy"], "token:admin", "{succeeded}");
    assert!(succeeded["finishedAt"].is_string(), "{succeeded}");
    let result = succeeded["result"].as_str().unwrap();
    let id = result
        .strip_prefix("backup set ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("{succeeded}"))
        .to_owned();
    // The finished backup makes the list load again, with the new set in it.
    browser.wait_for(
        "the new set in the list of backup sets",
        &format!("document.querySelector('#backups tr[data-backup-id=\"{id}\"]')"),
    );
    id
}

/// Opens the restore confirmation for set `id`, checks that it names every
/// table with its rows in `set`, and cancels it.
fn check_restore_confirmation(browser: &mut Browser, id: &str, set: &Value) {
    browser.click(&format!(
        "#backups tr[data-backup-id=\"{id}\"] [data-action=restore]"
    ));
    let text = browser.wait_for(
        "the restore confirmation",
        "document.getElementById('restore-dialog').open && \
         document.getElementById('restore-dialog').innerText",
    );
    let text = text.as_str().unwrap();
    assert!(text.contains(id), "{text}");
    assert!(
        text.contains("The current data in these tables will be replaced"),
        "{text}"
    );
    for table in set["tables"].as_array().unwrap() {
        let name = table["table"].as_str().unwrap().to_lowercase();
        let rows = grouped(table["rows"].as_u64().unwrap());
        let line = format!("{name}: everything in it now is replaced by the backup's {rows} rows");
        assert!(text.contains(&line), "no `{line}` in:\n{text}");
    }
    browser.click("#restore-cancel");
    browser.wait_for(
        "the confirmation to close",
        "!document.getElementById('restore-dialog').open",
    );
}

/// Closes the browser (and with it every subscription), then stops the server,
/// which must exit cleanly.
fn stop(browser: Browser, mut server: Server) {
    drop(browser);
    let (status, logs) = server.terminate();
    assert!(
        status.success(),
        "serve exited with {status}:\n{}",
        logs.join("\n")
    );
}

async fn the_admin_console_runs_a_backup_to_done_and_a_dry_run_restore(t: TestDb) {
    let Some(Console {
        server,
        base,
        mut browser,
        backups: _backups,
    }) = open_console(&t)
    else {
        return;
    };

    sign_in(&mut browser, &base);
    let id = run_backup(&mut browser);
    let sets = admin_graphql(&server, "{ backups { id tables { table rows } } }").await;
    let set = sets["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap_or_else(|| panic!("set {id} not in {sets}"))
        .clone();

    check_restore_confirmation(&mut browser, &id, &set);
    let no_restore = browser.evaluate(&format!("{} === null", operation_row("RESTORE")));
    assert_eq!(no_restore, json!(true), "cancelling started a restore");

    browser.click(&format!(
        "#backups tr[data-backup-id=\"{id}\"] [data-action=dry-run]"
    ));
    let row = operation_row("RESTORE");
    let result = browser.wait_for(
        "the dry run's result",
        &format!(
            "(() => {{ const row = {row}; return row && row.dataset.state === 'SUCCEEDED' && \
               row.querySelector('[data-field=result]').innerText; }})()"
        ),
    );
    let result = result.as_str().unwrap();
    assert!(
        result.starts_with(&format!("dry run of {id}, rolled back: ")),
        "{result}"
    );
    for table in set["tables"].as_array().unwrap() {
        let name = table["table"].as_str().unwrap().to_lowercase();
        let rows = grouped(table["rows"].as_u64().unwrap());
        // Nothing changed since the backup: as many rows before as restored.
        let line = format!("{name} {rows} → {rows} rows");
        assert!(result.contains(&line), "no `{line}` in: {result}");
    }
    let error = browser.evaluate("document.getElementById('error').hidden");
    assert_eq!(error, json!(true), "an error is shown");

    let listed = admin_graphql(
        &server,
        "{ operations(first: 5) { edges { node { kind state startedBy } } } }",
    )
    .await;
    let kinds: Vec<_> = listed["operations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["kind"].clone(), e["node"]["state"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("RESTORE"), json!("SUCCEEDED")),
            (json!("BACKUP"), json!("SUCCEEDED"))
        ],
        "newest first: {listed}"
    );
    stop(browser, server);
}

/// JavaScript: what the dashboard shows, and how many times it asked for data.
const DASHBOARD_STATE: &str = "({ asOf: document.getElementById('as-of').dataset.asOf, \
    asOfText: document.getElementById('as-of').innerText, \
    live: document.getElementById('live').dataset.status, \
    loads: performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/graphql')).length, \
    hires: [...document.querySelectorAll('#quarter-table tbody tr')] \
      .reduce((sum, tr) => sum + Number(tr.cells[6] ? tr.cells[6].textContent : 0), 0), \
    same: window.sameDocument === true, \
    identity: document.getElementById('identity').innerText })";

async fn the_dashboard_refreshes_by_itself_when_a_hire_is_stored(t: TestDb) {
    let Some(Console {
        server,
        base,
        mut browser,
        backups: _backups,
    }) = open_console(&t)
    else {
        return;
    };

    browser.navigate(&format!("{base}/?year=2021"));
    browser.wait_for(
        "the reports and the live subscription",
        "document.getElementById('as-of').dataset.asOf && \
         document.getElementById('live').dataset.status === 'live'",
    );
    // The subscription's first event is the state already shown: no second load.
    std::thread::sleep(Duration::from_secs(1));
    browser.evaluate("window.sameDocument = true");
    let before = browser.evaluate(DASHBOARD_STATE);
    // Who is signed in (`me`), and the reports once.
    assert_eq!(before["loads"], 2, "{before}");
    // No token: anonymous callers get the analyst role next to the static tokens.
    assert_eq!(before["identity"], "Not signed in · analyst", "{before}");
    assert!(
        before["asOfText"]
            .as_str()
            .unwrap()
            .starts_with("Data as of "),
        "{before}"
    );
    let hires = before["hires"].as_u64().unwrap();
    assert!(hires > 0, "{before}");

    let ids = admin_graphql(&server, "{ departments { id } jobs { id } }").await;
    let insert = format!(
        r#"mutation {{ insertHiredEmployees(rows: [{{id: 900001, name: "Live Update", hireDatetime: "2021-06-15T12:00:00Z", departmentId: {}, jobId: {}}}]) {{ inserted }} }}"#,
        ids["departments"][0]["id"], ids["jobs"][0]["id"]
    );
    let inserted = admin_graphql(&server, &insert).await;
    assert_eq!(
        inserted["insertHiredEmployees"]["inserted"], 1,
        "{inserted}"
    );

    let after = browser.wait_for(
        "the dashboard to show the new hire without a reload",
        &format!(
            "(() => {{ const now = {DASHBOARD_STATE}; \
               return now.asOf !== {} && now.hires === {} && now; }})()",
            before["asOf"],
            hires + 1
        ),
    );
    assert_eq!(after["same"], true, "the page was reloaded: {after}");
    assert_eq!(after["loads"], 3, "{after}");
    let as_of = admin_graphql(&server, "{ reportsAsOf }").await;
    assert_eq!(after["asOf"], as_of["reportsAsOf"], "{after}");
    stop(browser, server);
}

/// A token with the viewer role, listed in the server's `TOKENS_FILE`.
const VIEWER_TOKEN: &str = "viewer-token-for-the-dashboard-test";

/// A demo server on `t` where requests without a token get 401
/// (`ANONYMOUS_ROLE=none`), with [`VIEWER_TOKEN`] in its tokens file.
fn serve_demo_for_token_holders(t: &TestDb, tokens: &std::path::Path) -> Server {
    let digest: String = Sha256::digest(VIEWER_TOKEN.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let file = tokens.join("tokens");
    std::fs::write(
        &file,
        format!("# the dashboard's wall screen\nwall-screen viewer {digest}\n"),
    )
    .unwrap();
    let file = file.display().to_string();
    Server::start_with(
        &t.url,
        &[("ANONYMOUS_ROLE", "none"), ("TOKENS_FILE", &file)],
        &["--demo"],
    )
}

/// JavaScript: the token form's prompt, once it shows one.
const TOKEN_PROMPT: &str = "!document.getElementById('token-form').hidden && \
    !document.getElementById('token-prompt').hidden && \
    document.getElementById('token-prompt').innerText";

async fn the_dashboard_asks_for_a_token_where_anonymous_callers_have_no_role_and_shows_the_reports_with_one(
    t: TestDb,
) {
    let Some(chromium) = chromium() else {
        return;
    };
    let tokens = tempfile::tempdir().unwrap();
    let server = serve_demo_for_token_holders(&t, tokens.path());
    let base = format!("http://{}", server.address);
    let mut browser = Browser::launch(&chromium);

    browser.navigate(&format!("{base}/?year=2021"));
    let prompt = browser.wait_for("the token prompt", TOKEN_PROMPT);
    assert!(
        prompt.as_str().unwrap().contains("needs a token"),
        "{prompt}"
    );
    let before = browser.wait_for(
        "the answer to `me` without a token",
        "document.getElementById('identity').dataset.state !== 'checking' && \
         ({ rows: document.querySelectorAll('#quarter-table tbody td.number').length, \
           images: document.querySelectorAll('.chart img').length, \
           status: document.getElementById('status').innerText, \
           identity: document.getElementById('identity').innerText })",
    );
    assert_eq!(before["rows"], 0, "{before}");
    assert_eq!(before["images"], 0, "{before}");
    assert!(
        before["status"]
            .as_str()
            .unwrap()
            .contains("UNAUTHENTICATED"),
        "{before}"
    );
    // Anonymous callers have no role here, so not even `me` answers them.
    assert_eq!(before["identity"], "Not signed in", "{before}");

    // A token the server does not know is refused with its reason.
    browser.type_into("#token", "not-a-token-of-this-server");
    browser.click("#token-use");
    let refused = browser.wait_for(
        "the unknown token to be refused",
        &format!(
            "(() => {{ const text = {TOKEN_PROMPT}; \
               return text && text.startsWith('The server refused your token') && text; }})()"
        ),
    );
    assert!(
        refused
            .as_str()
            .unwrap()
            .contains("none of the configured tokens"),
        "{refused}"
    );
    let identity = browser.wait_for(
        "the answer to `me` with the unknown token",
        "document.getElementById('identity').dataset.state === 'refused' && \
         document.getElementById('identity').innerText",
    );
    assert_eq!(identity, "Token refused");

    // Pasted as a whole header value, the viewer's token shows the reports.
    browser.type_into("#token", &format!("Bearer {VIEWER_TOKEN}"));
    browser.click("#token-use");
    let shown = browser.wait_for(
        "both charts, the reports and the live subscription",
        "document.querySelectorAll('.chart img').length === 2 && \
         document.getElementById('as-of').dataset.asOf && \
         document.getElementById('live').dataset.status === 'live' && \
         document.getElementById('identity').dataset.state === 'signed-in' && \
         ({ rows: document.querySelectorAll('#quarter-table tbody tr').length, \
            mean: document.getElementById('mean').innerText, \
            errors: document.querySelectorAll('.error').length, \
            form: document.getElementById('token-form').hidden, \
            identity: document.getElementById('identity').innerText, \
            forget: !document.getElementById('forget-token').hidden, \
            session: sessionStorage.getItem('hiring-analytics.dashboard-token'), \
            local: localStorage.length, url: location.href })",
    );
    assert!(shown["rows"].as_u64().unwrap() > 1, "{shown}");
    assert!(
        shown["mean"]
            .as_str()
            .unwrap()
            .starts_with("Mean hires per department in 2021"),
        "{shown}"
    );
    assert_eq!(shown["errors"], 0, "an error is shown: {shown}");
    assert_eq!(shown["form"], true, "{shown}");
    // The server's word on who the token is: its name in the tokens file, and its role.
    assert_eq!(
        shown["identity"], "Signed in as token:wall-screen · viewer",
        "{shown}"
    );
    assert_eq!(shown["forget"], true, "{shown}");
    assert_eq!(shown["session"], VIEWER_TOKEN, "{shown}");
    assert_eq!(shown["local"], 0, "{shown}");
    assert_eq!(shown["url"], format!("{base}/?year=2021"), "{shown}");

    // The CSV download goes with the token too.
    browser.evaluate(
        "window.csvBlobs = []; const made = URL.createObjectURL; \
         URL.createObjectURL = (blob) => { window.csvBlobs.push(blob); return made(blob); }",
    );
    browser.click("[data-testid=csv-hires-by-quarter]");
    let csv = browser.wait_for(
        "the CSV export",
        "window.csvBlobs.length === 1 && window.csvBlobs[0].text()",
    );
    assert!(
        csv.as_str()
            .unwrap()
            .starts_with("departmentId,department,jobId,job,q1,q2,q3,q4,total"),
        "{csv}"
    );

    // Forgotten, the token is gone from the tab and the prompt is back.
    browser.click("#forget-token");
    let prompt = browser.wait_for("the token prompt again", TOKEN_PROMPT);
    assert!(
        prompt.as_str().unwrap().contains("needs a token"),
        "{prompt}"
    );
    let forgotten = browser.wait_for(
        "the answer to `me` without the token",
        "document.getElementById('identity').dataset.state === 'anonymous' && \
         ({ identity: document.getElementById('identity').innerText, \
            forget: document.getElementById('forget-token').hidden, \
            session: sessionStorage.getItem('hiring-analytics.dashboard-token') })",
    );
    assert_eq!(forgotten["identity"], "Not signed in", "{forgotten}");
    assert_eq!(forgotten["forget"], true, "{forgotten}");
    assert_eq!(forgotten["session"], Value::Null, "{forgotten}");
    stop(browser, server);
}

db_tests!(
    the_admin_console_runs_a_backup_to_done_and_a_dry_run_restore,
    the_dashboard_refreshes_by_itself_when_a_hire_is_stored,
    the_dashboard_asks_for_a_token_where_anonymous_callers_have_no_role_and_shows_the_reports_with_one,
);
