//! Talking to a running `lab dashboard` (or `lab demo --dashboard`): the command in the
//! background with its stdout lines, the state once, the event stream.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::get;

/// A `lab` command running in the background whose stdout lines arrive on a channel.
pub struct Live {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Live {
    pub fn start(mut command: Command) -> Live {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn lab");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Live {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first stdout line containing `needle` (waiting at most `limit`).
    pub fn line_with(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no line with {needle:?} within {limit:?}; so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The dashboard's URL, the line it prints on stdout.
    pub fn url(&mut self) -> String {
        let line = self.line_with("http://127.0.0.1:", Duration::from_secs(60));
        line.trim().trim_end_matches('/').to_string()
    }

    /// Ctrl-C, as a terminal sends it.
    pub fn interrupt(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    }

    pub fn wait(mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("lab still running after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn state(url: &str) -> Value {
    let (status, body, _) = get(&format!("{url}/state.json")).expect("GET /state.json");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("state is JSON")
}

/// Reads the event stream: calls `until` with each `state` event's data until it says
/// stop (true) or `limit` passes (then panics). Returns the content type seen.
pub fn follow(url: &str, limit: Duration, mut until: impl FnMut(&Value) -> bool) -> String {
    test_kit::service::install_tls_provider();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(limit)
        .build()
        .expect("client");
    let response = client
        .get(format!("{url}/events"))
        .send()
        .expect("GET /events");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let deadline = Instant::now() + limit;
    let mut event = String::new();
    for line in BufReader::new(response).lines() {
        assert!(
            Instant::now() < deadline,
            "the stream never showed what was expected"
        );
        let line = line.expect("read the stream");
        if let Some(data) = line.strip_prefix("data: ") {
            let value: Value = serde_json::from_str(data).expect("event data is JSON");
            if until(&value) {
                return content_type;
            }
        }
        event.push_str(&line);
    }
    panic!("the stream ended early");
}

pub fn latest<'a>(state: &'a Value, field: &str) -> &'a Value {
    &state["runs"][0]["latest"][field]
}
