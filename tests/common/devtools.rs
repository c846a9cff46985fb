//! Headless Chromium driven over the DevTools protocol, for tests that type,
//! click and watch a page change while the server changes under it (where
//! `--dump-dom` only shows the end state).
//!
//! The protocol's JSON messages go over one blocking WebSocket (tungstenite,
//! which the subscription tests use as well) to one page, attached as a flat
//! session. Included by the tests that need it (`#[path = "common/devtools.rs"]`).

use std::{
    io::{BufRead, BufReader, ErrorKind},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// How long one DevTools command may take to answer.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

use crate::common::HEADLESS;
pub use crate::common::chromium;

/// One headless Chromium with one page, stopped when dropped.
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocket<TcpStream>,
    session: Option<String>,
    next_id: u64,
    /// What the page logged and threw, for failure messages.
    console: Vec<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens a blank page.
    pub fn launch(chromium: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium)
            .args(HEADLESS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chromium");
        let (endpoint, stderr) = devtools_endpoint(&mut child);
        let socket = connect(&endpoint);
        let mut browser = Browser {
            child,
            _profile: profile,
            socket,
            session: None,
            next_id: 0,
            console: Vec::new(),
            stderr,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        browser.session = Some(attached["sessionId"].as_str().unwrap().to_owned());
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// Sends one command to the page (or to the browser before a page is
    /// attached) and returns its result; events that arrive meanwhile are noted.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        if let Err(err) = self.socket.send(Message::text(message.to_string())) {
            panic!("sending {method} to Chromium: {err}\n{}", self.logs());
        }
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let reply = match self.socket.read() {
                Ok(Message::Text(text)) => serde_json::from_str::<Value>(text.as_str()).unwrap(),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(err))
                    if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    assert!(
                        Instant::now() < deadline,
                        "Chromium did not answer {method}\n{}",
                        self.logs()
                    );
                    continue;
                }
                Err(err) => panic!("Chromium's DevTools socket: {err}\n{}", self.logs()),
            };
            if reply["id"] == id {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}\n{}", self.logs());
                }
                return reply["result"].clone();
            }
            self.note(&reply);
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn navigate(&mut self, url: &str) {
        let answer = self.call("Page.navigate", json!({ "url": url }));
        assert!(answer.get("errorText").is_none(), "{url}: {answer}");
        let loaded = format!(
            "document.readyState === 'complete' && location.href === {}",
            json!(url)
        );
        self.wait_for(&format!("{url} to load"), &loaded);
    }

    /// The value of a JavaScript expression in the page (promises are awaited).
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("`{expression}` threw: {details}\n{}", self.logs());
        }
        answer["result"]["value"].clone()
    }

    /// Waits up to a minute until `expression` is truthy, and returns its value;
    /// on time-out, fails with `what` and the page's text.
    pub fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.evaluate(expression);
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.evaluate("document.body ? document.body.innerText : ''");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}\n{}",
                    page.as_str().unwrap_or_default(),
                    self.logs()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` into the element `selector` as a keyboard would.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.evaluate(&format!(
            "document.querySelector({}).focus()",
            json!(selector)
        ));
        self.call("Input.insertText", json!({ "text": text }));
    }

    /// Clicks the element `selector`, which must exist.
    pub fn click(&mut self, selector: &str) {
        let clicked = self.evaluate(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        ));
        assert_eq!(clicked, json!(true), "no element {selector} to click");
    }

    /// Keeps what the page logged or threw.
    fn note(&mut self, event: &Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| match &a["value"] {
                        Value::String(s) => s.clone(),
                        Value::Null => a["description"].as_str().unwrap_or("").to_owned(),
                        other => other.to_string(),
                    })
                    .collect();
                self.console
                    .push(format!("console.{}: {}", params["type"], args.join(" ")));
            }
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("?");
                self.console.push(format!("uncaught: {text}"));
            }
            _ => {}
        }
    }

    /// The page's console and Chromium's own log, for failure messages.
    fn logs(&self) -> String {
        let stderr = self.stderr.lock().unwrap();
        let tail = &stderr[stderr.len().saturating_sub(20)..];
        format!(
            "page console:\n{}\nchromium log (last lines):\n{}",
            self.console.join("\n"),
            tail.join("\n")
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser's DevTools WebSocket URL, which Chromium prints once it
/// listens, and its whole log as it goes on.
fn devtools_endpoint(child: &mut Child) -> (String, Arc<Mutex<Vec<String>>>) {
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (found, endpoint) = mpsc::channel();
    let lines = log.clone();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.split("DevTools listening on ").nth(1) {
                let _ = found.send(url.trim().to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let url = endpoint
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "Chromium did not start:\n{}",
                log.lock().unwrap().join("\n")
            )
        });
    (url, log)
}

/// Opens the WebSocket at `url` (`ws://host:port/path`); reads wait at most a
/// moment, so that a missing answer shows up as one.
fn connect(url: &str) -> WebSocket<TcpStream> {
    let host = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .expect("a ws:// URL");
    let stream = TcpStream::connect(host).expect("connect to DevTools");
    let (socket, _) = tungstenite::client(url, stream).expect("DevTools WebSocket upgrade");
    socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    socket
}
