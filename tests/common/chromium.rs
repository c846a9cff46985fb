//! Finding the Chromium the browser tests drive.

use std::process::Command;

/// The flags every browser test starts Chromium with: headless, with no
/// network access of its own (updates, sync, QUIC) and no first-run pages.
pub const HEADLESS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
];

/// Chromium's command, or `None` with a notice when it is not installed (a
/// failure instead when `CI` is set: `.ci/run` installs Debian's `chromium`).
pub fn chromium() -> Option<String> {
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
