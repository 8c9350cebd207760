//! Shared test helpers: a real HTTP server on 127.0.0.1, running experiments through
//! the library and through the `chaos-runner` binary.
#![allow(dead_code)]

use chaos_runner::Experiment;
use chaos_runner::{Outcome, RunHandle, RunOptions, run_experiment};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wait_timeout::ChildExt;

/// A small HTTP server for provider tests. Routes:
/// - `/ok` 200 text "hello"; `/json` 200 `application/json`;
/// - `/status/N` answers status N; `/slow/MS` waits MS ms then 200;
/// - `/echo` answers JSON describing the request (method, url, content_type, body, x_test);
/// - `/hits` answers how many requests were served so far; `/count/NAME` counts per name.
pub struct TestServer {
    pub base: String,
    hits: Arc<AtomicUsize>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// One server per test binary, started on first use on an ephemeral port.
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind test server");
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("ip address");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let server = Arc::new(server);
        // A few workers so slow requests don't block the others.
        for _ in 0..4 {
            let server = server.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    counter.fetch_add(1, Ordering::SeqCst);
                    handle(request);
                }
            });
        }
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            hits,
        }
    })
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn handle(mut request: tiny_http::Request) {
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let json_response = |v: Value, status: u16| {
        tiny_http::Response::from_string(v.to_string())
            .with_status_code(status)
            .with_header(header("Content-Type", "application/json"))
    };
    let response = if path == "/ok" {
        tiny_http::Response::from_string("hello").with_header(header("Content-Type", "text/plain"))
    } else if path == "/experiment.yaml" {
        let yaml = "title: from yaml\ndescription: d\nmethod:\n  - type: action\n    name: a\n    provider:\n      type: process\n      path: \"true\"\n";
        tiny_http::Response::from_string(yaml)
            .with_header(header("Content-Type", "application/x-yaml"))
    } else if path == "/json" {
        json_response(
            json!({"status": "UP", "count": 3, "items": [{"name": "a", "up": true}, {"name": "b", "up": false}]}),
            200,
        )
    } else if let Some(code) = path.strip_prefix("/status/") {
        let code = code.parse().unwrap_or(500);
        tiny_http::Response::from_string(format!("status {code}")).with_status_code(code)
    } else if let Some(ms) = path.strip_prefix("/slow/") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        tiny_http::Response::from_string("slow")
    } else if path == "/echo" {
        let find = |name: &'static str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_string())
        };
        json_response(
            json!({
                "method": request.method().as_str(),
                "url": url,
                "content_type": find("Content-Type"),
                "x_test": find("X-Test"),
                "body": body,
            }),
            200,
        )
    } else {
        tiny_http::Response::from_string("not found").with_status_code(404)
    };
    let _ = request.respond(response);
}

/// Runs an experiment through the library (no validation) and returns the outcome.
pub fn run_lib(experiment: Value, options: RunOptions) -> Outcome {
    run_experiment(
        Experiment::from_value(experiment),
        &options,
        &RunHandle::default(),
    )
    .expect("configuration loads")
}

/// The journal of an outcome as JSON, for pointer lookups.
pub fn journal_json(outcome: &Outcome) -> Value {
    serde_json::to_value(&outcome.journal).expect("journal serializes")
}

/// A minimal valid experiment around the given hypothesis probes, method and rollbacks.
pub fn experiment(probes: Value, method: Value, rollbacks: Value) -> Value {
    let mut e = json!({
        "title": "test experiment",
        "description": "conformance test",
        "method": method,
        "rollbacks": rollbacks,
    });
    if probes.as_array().is_some_and(|p| !p.is_empty()) {
        e["steady-state-hypothesis"] = json!({"title": "hypothesis", "probes": probes});
    }
    e
}

pub fn process(name: &str, path: &str, arguments: Value) -> Value {
    json!({"type": "action", "name": name, "provider": {"type": "process", "path": path, "arguments": arguments}})
}

pub fn probe_process(name: &str, path: &str, arguments: Value, tolerance: Value) -> Value {
    json!({"type": "probe", "name": name, "tolerance": tolerance,
           "provider": {"type": "process", "path": path, "arguments": arguments}})
}

pub fn probe_http(name: &str, url: &str, tolerance: Value) -> Value {
    json!({"type": "probe", "name": name, "tolerance": tolerance,
           "provider": {"type": "http", "url": url, "timeout": 5}})
}

/// Result of running the binary.
pub struct CliRun {
    pub code: i32,
    pub stderr: String,
    pub stdout: String,
    pub journal: Option<Value>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaos-runner"))
}

/// Runs `chaos-runner validate` on `experiment` (with `env`), asserts it is refused
/// (exit 1) with each of `expected` in its log, and returns the log.
pub fn assert_refused_by_validation(
    experiment: &Value,
    env: &[(&str, &std::ffi::OsStr)],
    expected: &[&str],
) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("experiment.json");
    std::fs::write(&file, experiment.to_string()).expect("write");
    let out = Command::new(bin())
        .arg("validate")
        .arg(&file)
        .envs(env.iter().copied())
        .output()
        .expect("run chaos-runner validate");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    for line in expected {
        assert!(err.contains(line), "missing {line:?} in:\n{err}");
    }
    err
}

/// Writes `experiment` as `experiment.json` in `dir` and runs `chaos-runner run` on it.
pub fn run_cli(dir: &Path, experiment: &Value, extra: &[&str]) -> CliRun {
    run_cli_with(dir, experiment, extra, &[])
}

/// [`run_cli`] with extra environment variables.
pub fn run_cli_with(
    dir: &Path,
    experiment: &Value,
    extra: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> CliRun {
    let file = dir.join("experiment.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(experiment).expect("serialize"),
    )
    .expect("write");
    let journal = dir.join("journal.json");
    let _ = std::fs::remove_file(&journal);
    let mut args: Vec<String> = vec![
        "run".into(),
        "--journal-path".into(),
        journal.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(file.display().to_string());
    let out = Command::new(bin())
        .args(&args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run chaos-runner");
    cli_result(out, &journal)
}

pub fn cli_result(out: Output, journal: &Path) -> CliRun {
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        journal: std::fs::read_to_string(journal)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
    }
}

/// `activity names -> statuses` of a list of runs in a journal.
pub fn statuses(runs: &Value) -> Vec<(String, String)> {
    runs.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["activity"]["name"].as_str().unwrap_or("").to_string(),
                        r["status"].as_str().unwrap_or("<none>").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `program` (chaos-runner or the reference `chaos`) on the experiment file
/// `experiment` in `work`, as the compatibility tier does: `--var base_url=` the test
/// server, `--var marker=` a fresh file in `work`, then `extra` options; both runners
/// find Python modules in tests/fixtures/python (`PYTHONPATH`), and our bridge uses the
/// compatibility tier's interpreter. Bounded to 60 s. Returns the exit code and the
/// journal, if one was written.
pub fn run_runner(
    program: &Path,
    global: &[&str],
    experiment: &Path,
    work: &Path,
    extra: &[String],
) -> (i32, Option<Value>) {
    std::fs::create_dir_all(work).expect("work dir");
    let marker = work.join("marker");
    std::fs::write(&marker, "").expect("marker");
    let journal = work.join("journal.json");
    let _ = std::fs::remove_file(&journal);
    let mut args: Vec<String> = global.iter().map(|s| s.to_string()).collect();
    args.extend([
        "run".into(),
        "--journal-path".into(),
        journal.display().to_string(),
        "--var".into(),
        format!("base_url={}", server().base),
        "--var".into(),
        format!("marker={}", marker.display()),
    ]);
    args.extend(extra.iter().cloned());
    args.push(experiment.display().to_string());
    let python_modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python");
    let mut child = Command::new(program)
        .args(&args)
        .env("PYTHONPATH", python_modules)
        .env(
            chaos_runner::PYTHON_ENV,
            test_kit::tier::chaos_bin().with_file_name("python"),
        )
        .current_dir(work)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(work.join("stderr.log")).expect("stderr log"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let status = match child.wait_timeout(Duration::from_secs(60)).expect("wait") {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!(
                "{} on {} took over 60 s",
                program.display(),
                experiment.display()
            );
        }
    };
    let journal = std::fs::read_to_string(&journal)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("journal is JSON"));
    (status.code().unwrap_or(-1), journal)
}

/// [`run_runner`], for a run that must write a journal.
pub fn run_one(
    program: &Path,
    global: &[&str],
    experiment: &Path,
    work: &Path,
    extra: &[String],
) -> (i32, Value) {
    let (code, journal) = run_runner(program, global, experiment, work, extra);
    let journal = journal.unwrap_or_else(|| {
        panic!(
            "{} wrote no journal for {}",
            program.display(),
            experiment.display()
        )
    });
    (code, journal)
}

/// Whether a process whose command line contains `token` is running.
pub fn process_alive(token: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|c| String::from_utf8_lossy(&c).contains(token))
}
