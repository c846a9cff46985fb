//! The dashboard and the playground in headless Chromium, against a server on demo data.
//!
//! Chromium runs with no network access beyond the local server, so this also
//! shows that neither page needs the internet. Without Chromium the test is
//! skipped with a notice; when `CI` is set it fails instead (`.ci/run` installs
//! Debian's `chromium`).

mod common;

use std::process::Command;

use common::Server;

fn chromium() -> Option<String> {
    let found = std::env::var("CHROMIUM").ok().or_else(|| {
        ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|name| {
                Command::new(name)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .map(str::to_owned)
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("Chromium is not installed, and CI requires the browser test");
        }
        eprintln!("notice: Chromium is not installed; skipping the browser test");
    }
    found
}

/// The DOM of `url` after its scripts ran, as headless Chromium renders it.
fn rendered_dom(chromium: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
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
