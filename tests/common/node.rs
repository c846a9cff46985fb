//! The Node clients of `tests/clients` (installed by `npm ci --prefix tests/clients`).

use std::{path::PathBuf, process::Command};

/// The folder of the Node clients, when Node and `packages` are installed;
/// otherwise `None` with a notice, or a failure when `CI` is set.
pub fn node_clients(packages: &[&str]) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = packages
        .iter()
        .all(|package| dir.join("node_modules").join(package).is_dir());
    if node && installed {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("Node or the packages of tests/clients are missing, and CI requires these tests");
    }
    eprintln!(
        "notice: Node or tests/clients/node_modules is absent (npm ci --prefix tests/clients); \
         skipping a Node client test"
    );
    None
}
