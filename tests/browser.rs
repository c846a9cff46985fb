//! Headless Chromium against a server on demo data: the dashboard and the
//! playground, and browser apps on other origins calling the API through CORS.
//!
//! Chromium runs with no network access beyond the local server, so this also
//! shows that neither page needs the internet. Without Chromium the test is
//! skipped with a notice; when `CI` is set it fails instead (`.ci/run` installs
//! Debian's `chromium`).

mod common;

use std::process::Command;

use common::{HEADLESS, Server, chromium};

/// The DOM of `url` after its scripts ran, as headless Chromium renders it.
fn rendered_dom(chromium: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args(HEADLESS)
        .args(["--virtual-time-budget=15000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_dashboard_and_the_playground_render_offline_in_a_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let mut server = Server::start_with(&url, &[], &["--demo"]);
    let base = format!("http://{}", server.address);

    let dashboard = rendered_dom(&chromium, &format!("{base}/?year=2021"));
    assert_eq!(
        dashboard.matches("src=\"data:image/png;base64,").count(),
        2,
        "both charts load:\n{dashboard}"
    );
    assert!(
        dashboard.contains("<td>Engineering</td>"),
        "report rows:\n{dashboard}"
    );
    assert!(
        dashboard.contains("Mean hires per department in 2021"),
        "{dashboard}"
    );
    assert!(
        !dashboard.contains("class=\"error\""),
        "an error is shown:\n{dashboard}"
    );
    // Who is signed in is the server's answer to `me`: no token, and the
    // editor role anonymous callers get on a loopback address without tokens.
    assert!(
        dashboard.contains(">Not signed in · editor</span>"),
        "{dashboard}"
    );

    let playground = rendered_dom(&chromium, &format!("{base}/graphql"));
    assert!(playground.contains("graphiql-container"), "{playground}");
    assert!(playground.contains("graphiql-editor"), "{playground}");
    // CodeMirror only appears once GraphiQL has built its editor.
    assert!(
        playground.contains("CodeMirror"),
        "no editor:\n{playground}"
    );

    let (status, _) = server.terminate();
    assert!(status.success());
}

/// A page that POSTs `query` with `token` to the API named in its URL
/// (`?api=…`), as an app on another origin would, and shows what it got (or
/// how the browser refused it).
fn app_page(token: &str, query: &str) -> String {
    let body = serde_json::json!({ "query": query }).to_string();
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
fetch(new URLSearchParams(location.search).get("api"), {{
  method: "POST",
  headers: {{ "content-type": "application/json", "authorization": "Bearer {token}" }},
  body: {body:?},
}})
  .then((r) => r.json().then((j) => "status " + r.status + " request-id " + (r.headers.get("x-request-id") ? "exposed" : "hidden") + " " + JSON.stringify(j)))
  .catch((e) => "blocked: " + e)
  .then((t) => {{ document.getElementById("out").textContent = t; }});
</script></body></html>"#
    )
}

/// Serves `page` at `/` from a port of its own (another origin); returns the origin.
async fn serve_page(page: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(page) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_listed_origin_writes_with_its_token_and_an_unlisted_one_cannot() {
    let Some(chromium) = chromium() else {
        return;
    };
    // reqwest has no built-in TLS library in this build: it uses ours (aws-lc-rs).
    let token = "api-token-for-the-cors-browser-test";
    let insert = |id: i32| {
        format!(
            r#"mutation {{ insertDepartments(rows: [{{id: {id}, department: "From page {id}"}}]) {{ inserted }} }}"#
        )
    };
    // The pages are served first, so the API can list one of their origins.
    let listed = serve_page(app_page(token, &insert(901))).await;
    let unlisted = serve_page(app_page(token, &insert(902))).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let mut server = Server::start_with(
        &url,
        &[("CORS_ORIGINS", listed.as_str()), ("API_TOKEN", token)],
        &["--demo"],
    );
    let api = format!("http://{}/graphql", server.address);

    let chromium_for = |origin: String| {
        let chromium = chromium.clone();
        let page = format!("{origin}/?api={api}");
        tokio::task::spawn_blocking(move || rendered_dom(&chromium, &page))
    };
    let allowed = chromium_for(listed).await.unwrap();
    assert!(
        allowed.contains(
            r#"status 200 request-id exposed {"data":{"insertDepartments":{"inserted":1}}}"#
        ),
        "{allowed}"
    );
    let refused = chromium_for(unlisted).await.unwrap();
    assert!(refused.contains("blocked: TypeError"), "{refused}");

    // The refused page's preflight stopped its write before it reached the resolvers.
    let stored = reqwest::Client::new()
        .post(&api)
        .json(&serde_json::json!({ "query": "{ department(id: 902) { id } a: department(id: 901) { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        stored["data"]["department"],
        serde_json::Value::Null,
        "{stored}"
    );
    assert_eq!(stored["data"]["a"]["id"], 901, "{stored}");
    let (status, _) = server.terminate();
    assert!(status.success());
}
