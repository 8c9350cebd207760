//! Reliability of the `process` and `http` providers and of signal handling (issue 13):
//! nothing a process activity started outlives a timeout or an interruption, a
//! trickling HTTP response cannot outlast its timeout, and a second Ctrl-C kills the
//! children still running before the runner exits.

mod common;

use chaos_runner::Experiment;
use chaos_runner::Registry;
use chaos_runner::{RunHandle, RunOptions, run_experiment};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use test_kit::process::alive;
use wait_timeout::ChildExt;

fn opts() -> RunOptions {
    RunOptions {
        registry: Registry::empty(),
        ..RunOptions::default()
    }
}

/// The pids a test's processes wrote to files: killed when the test ends, whatever
/// happened, if they still run the command the test gave them (never a reused pid).
struct Pids(Vec<(u32, String)>);

impl Pids {
    fn new() -> Self {
        Pids(Vec::new())
    }

    /// Waits (bounded) for `file` to hold a pid; remembers it with the token its
    /// command line holds.
    fn read(&mut self, file: &Path, token: &str) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                self.0.push((pid, token.to_string()));
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "{} was never written",
                file.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        for (pid, token) in &self.0 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if alive(*pid) && String::from_utf8_lossy(&cmdline).contains(token.as_str()) {
                let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            }
        }
    }
}

/// Whether `pid` is still alive `grace` after now (a killed process takes a moment to
/// go; one left running stays).
fn still_alive_after(pid: u32, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    while alive(pid) {
        if Instant::now() >= deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A distinctive sleep length, so the test's own `sleep` is recognisable in /proc.
fn sleep_token(base: u32) -> String {
    format!("{base}.{}", std::process::id() % 1000)
}

/// `sh -c "sleep N & echo $! > FILE; echo started"`: the shell exits at once, its
/// `sleep` stays in the process group holding the output pipes.
fn background_sleep(dir: &Path, name: &str, token: &str, timeout: Option<f64>) -> Value {
    let pid_file = dir.join(format!("{name}.pid"));
    let script = format!(
        "sleep {token} & echo $! > '{}'; echo started",
        pid_file.display()
    );
    let mut provider = json!({"type": "process", "path": "sh", "arguments": ["-c", script]});
    if let Some(t) = timeout {
        provider["timeout"] = json!(t);
    }
    json!([{"type": "action", "name": name, "provider": provider}])
}

/// Defect 4 (timeout): the direct child has exited, its `sleep` still holds the pipes;
/// the timeout kills the whole group, the `sleep` included, before the activity ends.
#[test]
fn process_timeout_kills_the_group_after_the_direct_child_exited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pids = Pids::new();
    let token = sleep_token(37);
    let method = background_sleep(dir.path(), "bg", &token, Some(0.5));
    let started = Instant::now();
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    let elapsed = started.elapsed();
    let sleep_pid = pids.read(&dir.path().join("bg.pid"), &token);
    let j = journal_json(&outcome);
    assert_eq!(j["run"][0]["status"], "failed", "{}", j["run"][0]);
    assert!(
        j["run"][0]["exception"][0]
            .as_str()
            .unwrap_or("")
            .contains("took too long"),
        "{}",
        j["run"][0]
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        !still_alive_after(sleep_pid, Duration::from_millis(200)),
        "the timed-out activity's `sleep {token}` (pid {sleep_pid}) is still running after the run"
    );
}

/// Defect 4 (interruption): the same group, interrupted (the first Ctrl-C) once only the
/// `sleep` is left in it.
#[test]
fn process_interruption_kills_the_group_after_the_direct_child_exited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pids = Pids::new();
    let token = sleep_token(38);
    let method = background_sleep(dir.path(), "bg", &token, None);
    let run = RunHandle::default();
    let runner = {
        let run = run.clone();
        let e = experiment(json!([]), method, json!([]));
        std::thread::spawn(move || {
            run_experiment(Experiment::from_value(e), &opts(), &run).map(|o| journal_json(&o))
        })
    };
    let sleep_pid = pids.read(&dir.path().join("bg.pid"), &token);
    // Let the shell exit first: only its `sleep` is left in the group.
    std::thread::sleep(Duration::from_millis(300));
    run.cancel().cancel();
    let j = runner.join().expect("runner").expect("run");
    assert_eq!(j["status"], "interrupted", "{j}");
    assert!(
        !still_alive_after(sleep_pid, Duration::from_millis(200)),
        "the interrupted activity's `sleep {token}` (pid {sleep_pid}) is still running"
    );
}

/// A server on 127.0.0.1 answering each connection with `head` at once, then `trickle`
/// one byte every `every`, for at most `limit` (then it hangs up: nothing waits on it
/// longer).
fn trickling_server(
    head: &'static [u8],
    trickle: &'static [u8],
    every: Duration,
    limit: Duration,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                if stream.write_all(head).is_err() {
                    return;
                }
                let started = Instant::now();
                for byte in trickle {
                    if started.elapsed() > limit || stream.write_all(&[*byte]).is_err() {
                        return;
                    }
                    let _ = stream.flush();
                    std::thread::sleep(every);
                }
            });
        }
    });
    url
}

/// Defect 5: a server that keeps sending its body one byte at a time never lets a
/// per-read timeout fire; the whole exchange is bounded by connect + read timeout, with
/// a failure that says so, for the number and the `[connect, read]` forms. (Headers
/// that trickle were already bounded: reqwest gives them the read timeout in all.)
#[test]
fn http_timeout_bounds_a_trickling_response() {
    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n";
    const BODY: &[u8] = b"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";
    let (every, limit) = (Duration::from_millis(100), Duration::from_secs(4));
    let body_url = trickling_server(HEAD, BODY, every, limit);
    let head_url = trickling_server(b"", HEAD, every, limit);
    let probe = |name: &str, url: &str, timeout: Value| json!({"type": "probe", "name": name, "provider": {"type": "http", "url": url, "timeout": timeout}});
    let method = json!([
        probe("body-number", &body_url, json!(0.6)),
        probe("body-pair", &body_url, json!([0.3, 0.6])),
        probe("headers-pair", &head_url, json!([0.3, 0.6])),
    ]);
    let started = Instant::now();
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    let elapsed = started.elapsed();
    let j = journal_json(&outcome);
    for (i, bound, detail) in [
        (0, 1.2, Some("(connect timeout 0.6 s + read timeout 0.6 s)")),
        (1, 0.9, Some("(connect timeout 0.3 s + read timeout 0.6 s)")),
        (2, 0.9, None),
    ] {
        let run = &j["run"][i];
        assert_eq!(run["status"], "failed", "{run}");
        let exception = run["exception"][0].as_str().unwrap_or("");
        assert!(
            exception.contains("activity took too long to complete"),
            "{run}"
        );
        let duration = run["duration"].as_f64().unwrap_or(f64::MAX);
        if let Some(detail) = detail {
            assert!(
                exception.contains(&format!("still arriving after {bound} s"))
                    && exception.contains(detail),
                "{run}"
            );
            assert!(duration >= bound - 0.1, "{run}");
        }
        assert!(
            duration < bound + 1.0,
            "{}: a trickle held a {bound} s bound for {duration} s",
            run["activity"]["name"]
        );
    }
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

/// Defect 6: with `--rollback-strategy always`, a first Ctrl-C stops the method and
/// the rollbacks start; a second one while a rollback's process runs must kill that
/// process before the runner exits 1 with the interrupted journal.
#[test]
fn second_ctrl_c_kills_the_running_child_before_exiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pids = Pids::new();
    let (method_token, rollback_token) = (sleep_token(40), sleep_token(41));
    let (method_pid_file, rollback_pid_file) = (
        dir.path().join("method.pid"),
        dir.path().join("rollback.pid"),
    );
    let sleeper = |name: &str, file: &Path, token: &str| {
        process(
            name,
            "sh",
            json!([
                "-c",
                format!("echo $$ > '{}'; exec sleep {token}", file.display())
            ]),
        )
    };
    let e = experiment(
        json!([]),
        json!([sleeper("long", &method_pid_file, &method_token)]),
        json!([sleeper(
            "long-rollback",
            &rollback_pid_file,
            &rollback_token
        )]),
    );
    let file = dir.path().join("e.json");
    std::fs::write(&file, e.to_string()).expect("write");
    let journal = dir.path().join("j.json");
    let mut child = Command::new(bin())
        .args([
            "run",
            "--rollback-strategy",
            "always",
            "--journal-path",
            journal.to_str().unwrap_or(""),
            file.to_str().unwrap_or(""),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let runner = Pid::from_raw(child.id() as i32);

    let method_pid = pids.read(&method_pid_file, &method_token);
    kill(runner, Signal::SIGINT).expect("first SIGINT");
    let rollback_pid = pids.read(&rollback_pid_file, &rollback_token);
    assert!(
        !still_alive_after(method_pid, Duration::from_secs(2)),
        "the first Ctrl-C killed the method's process"
    );
    kill(runner, Signal::SIGINT).expect("second SIGINT");
    let status = match child.wait_timeout(Duration::from_secs(10)).expect("wait") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the runner did not exit within 10 s of the second Ctrl-C");
        }
    };
    assert_eq!(status.code(), Some(1));
    assert!(
        !still_alive_after(rollback_pid, Duration::from_millis(200)),
        "the rollback's `sleep {rollback_token}` (pid {rollback_pid}) outlived the runner"
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal written"))
            .expect("json");
    assert_eq!(j["status"], "interrupted");
}
