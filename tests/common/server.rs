//! The server process: the built binary run as `serve`, stopped when the test ends.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// A running `serve` process, stopped by SIGTERM when the test ends.
pub struct Server {
    pub child: Child,
    pub address: String,
    logs: mpsc::Receiver<String>,
    startup_logs: Vec<String>,
}

impl Server {
    pub fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Server {
        Self::start_with(database_url, extra_env, &[])
    }

    pub fn start_with(database_url: &str, extra_env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut command = binary();
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env("DATABASE_URL", database_url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let address = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("serve did not start:\n{}", seen.join("\n")));
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            seen.push(line);
        };
        Server {
            child,
            address,
            logs,
            startup_logs: seen,
        }
    }

    pub fn terminate(&mut self) -> (std::process::ExitStatus, Vec<String>) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        // Give the reader thread a moment to pass on the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let mut logs = std::mem::take(&mut self.startup_logs);
        logs.extend(self.logs.try_iter());
        (status, logs)
    }
}

impl Drop for Server {
    /// Stops the server; when the test failed, prints what the server logged,
    /// so a failure in CI shows the server's side of it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        if std::thread::panicking() {
            let _ = self.child.wait();
            std::thread::sleep(Duration::from_millis(100));
            for line in self
                .startup_logs
                .iter()
                .cloned()
                .chain(self.logs.try_iter())
            {
                eprintln!("server: {line}");
            }
        }
    }
}

/// Runs `command` and returns its standard output; fails the test, showing
/// the standard error, when it does not exit 0.
pub fn succeeded(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The built binary, with none of the settings this shell may have exported.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hiring-analytics"));
    for var in [
        "DATABASE_URL",
        "ADMIN_TOKEN",
        "API_TOKEN",
        "READ_TOKEN",
        "TOKENS_FILE",
        "ANONYMOUS_ROLE",
        "INTROSPECTION",
        "JWT_JWKS_URL",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "JWT_ROLE_CLAIM",
        "JWT_LEEWAY_SECONDS",
        "BIND",
        "RUST_LOG",
        "LOG_FORMAT",
        "BACKUP_URL",
        "BACKUP_KEEP",
        "S3_ENDPOINT",
        "S3_REGION",
        "S3_FORCE_PATH_STYLE",
    ] {
        command.env_remove(var);
    }
    command
}

/// POSTs a GraphQL query to the server at `address`, with `token` when given,
/// and returns its JSON answer.
pub async fn graphql_at(address: &str, token: Option<&str>, query: &str) -> serde_json::Value {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .json(&serde_json::json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}
