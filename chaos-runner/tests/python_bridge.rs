//! The Python bridge: `python` activities whose module has no native driver run in a
//! real interpreter (the compatibility tier's virtualenv), called as chaoslib calls them.
//! The fixture module is tests/fixtures/python/cascade_fixture.py. Without an
//! interpreter (local tier): a warning at validation, a failed activity at run time, and
//! nothing started when no Python activity runs.

mod common;

use common::*;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python")
}

/// The compatibility tier's interpreter (the reference's virtualenv).
fn venv_python() -> PathBuf {
    test_kit::tier::chaos_bin().with_file_name("python")
}

fn python(name: &str, func: &str, arguments: Value) -> Value {
    json!({"type": "action", "name": name,
           "provider": {"type": "python", "module": "cascade_fixture", "func": func, "arguments": arguments}})
}

/// Runs `experiment` with the fixture module importable and the venv's interpreter.
fn run_bridged(experiment: &Value, extra: &[&str]) -> CliRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = venv_python();
    run_cli_with(
        dir.path(),
        experiment,
        extra,
        &[
            ("PYTHONPATH", fixture_modules().as_os_str()),
            (chaos_runner::PYTHON_ENV, python.as_os_str()),
        ],
    )
}

/// [`run_bridged`], killed after `limit` (a call that never returns): the result and
/// how long it took.
fn run_bridged_within(experiment: &Value, limit: Duration) -> (CliRun, Duration) {
    use wait_timeout::ChildExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("experiment.json");
    std::fs::write(&file, experiment.to_string()).expect("write");
    let journal = dir.path().join("journal.json");
    let started = Instant::now();
    let mut child = Command::new(bin())
        .arg("run")
        .arg("--journal-path")
        .arg(&journal)
        .arg(&file)
        .env("PYTHONPATH", fixture_modules())
        .env(chaos_runner::PYTHON_ENV, venv_python())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run chaos-runner");
    if child.wait_timeout(limit).expect("wait").is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    (cli_result(out, &journal), started.elapsed())
}

fn outputs(journal: &Value) -> Vec<(String, Value)> {
    journal["run"]
        .as_array()
        .expect("run list")
        .iter()
        .map(|r| {
            (
                r["activity"]["name"].as_str().unwrap_or("").to_string(),
                r["output"].clone(),
            )
        })
        .collect()
}

#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_bridge_returns_values_as_the_journal_keeps_them() {
    let e = experiment(
        json!([]),
        json!([
            python("dict", "echo", json!({"message": "hi", "times": 3})),
            python("date", "when", json!({})),
            python("object", "thing", json!({})),
            python("prints-and-logs", "chatty", json!({})),
            python("raises", "fails", json!({"reason": "on purpose"})),
        ]),
        json!([]),
    );
    let r = run_bridged(&e, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    assert_eq!(
        outputs(&j),
        vec![
            ("dict".into(), json!({"message": "hi", "times": 3})),
            ("date".into(), json!("2026-12-02T03:04:05")),
            ("object".into(), json!("a thing")),
            ("prints-and-logs".into(), json!(42)),
            ("raises".into(), Value::Null),
        ]
    );
    let raised = &j["run"][4];
    assert_eq!(raised["status"], "failed");
    // As chaoslib records it: the user's traceback, then the ActivityFailed it became.
    let lines: Vec<&str> = raised["exception"]
        .as_array()
        .expect("exception lines")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        lines.last(),
        Some(&"chaoslib.exceptions.ActivityFailed: ValueError: boom: on purpose\n")
    );
    assert_eq!(lines.first(), Some(&"Traceback (most recent call last):\n"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cascade_fixture.py") && l.contains("in fails")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("<string>")),
        "bridge frames: {lines:?}"
    );
    // The module's log record reaches chaos-runner's log; its print went to stderr.
    assert!(
        r.stderr.contains("hello from the fixture module"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("this goes to stderr"), "{}", r.stderr);
}

#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_bridge_validation_follows_chaoslib() {
    let e = experiment(
        json!([]),
        json!([
            json!({"type": "action", "name": "no-module",
                   "provider": {"type": "python", "module": "no_such_module_here", "func": "f"}}),
            python("no-func", "no_such_function", json!({})),
            python(
                "extra-arg",
                "echo",
                json!({"message": "m", "colour": "red"})
            ),
            python("missing-arg", "echo", json!({"times": 2})),
            python("fits", "with_configuration", json!({"key": "k"})),
            // chaoslib's validation cannot read a C function's missing signature (its
            // ValueError escapes: the reference never runs the experiment).
            json!({"type": "action", "name": "no-signature",
                   "provider": {"type": "python", "module": "math", "func": "log", "arguments": {"x": 8}}}),
        ]),
        json!([]),
    );
    assert_refused_by_validation(
        &e,
        &[
            ("PYTHONPATH", fixture_modules().as_os_str()),
            (chaos_runner::PYTHON_ENV, venv_python().as_os_str()),
        ],
        &[
            "/method/0/provider/module: could not find Python module 'no_such_module_here' in activity 'no-module'",
            "/method/1/provider/func: The python module 'cascade_fixture' does not expose a function called 'no_such_function' in action 'no-func'",
            "/method/2/provider/arguments: argument 'colour' is not part of the function signature in activity 'extra-arg'",
            "/method/3/provider/arguments: required argument 'message' is missing from activity 'missing-arg'",
            "/method/5/provider/func: cannot read the signature of 'math.log' to check action 'no-signature': ValueError: no signature found for builtin <built-in function log>",
            "5 problems found",
        ],
    );
}

#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_one_interpreter_serves_the_run_and_calls_run_together() {
    let background = |name: &str| {
        let mut a = python(name, "sleeps", json!({"seconds": 1.0}));
        a["background"] = json!(true);
        a
    };
    let e = experiment(
        json!([]),
        json!([
            python("pid-1", "pid", json!({})),
            background("sleep-a"),
            background("sleep-b"),
            python("pid-2", "pid", json!({})),
        ]),
        json!([]),
    );
    let started = Instant::now();
    let r = run_bridged(&e, &[]);
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    let pid = |name: &str| {
        outputs(&j)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    };
    assert!(pid("pid-1").is_some_and(|p| p.is_u64()), "{j}");
    assert_eq!(pid("pid-1"), pid("pid-2"), "one interpreter for the run");
    // The two 1 s calls ran at the same time: each started before the other ended (the
    // journal's times; wall time would depend on the machine's load).
    let span = |name: &str| {
        let r = j["run"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["activity"]["name"] == name))
            .unwrap_or_else(|| panic!("no run of {name}: {j}"));
        let at = |key: &str| {
            chrono::DateTime::parse_from_rfc3339(r[key].as_str().expect("a time"))
                .expect("an RFC 3339 time")
        };
        (at("start"), at("end"))
    };
    let ((a_start, a_end), (b_start, b_end)) = (span("sleep-a"), span("sleep-b"));
    assert!(
        a_start < b_end && b_start < a_end,
        "one after the other: {j}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_interpreter_of_the_chaos_on_path() {
    let venv_bin = venv_python().parent().expect("venv bin").to_path_buf();
    let mut path = OsString::from(venv_bin.as_os_str());
    path.push(":/usr/bin:/bin");
    let dir = tempfile::tempdir().expect("tempdir");
    let e = experiment(
        json!([]),
        json!([python("which", "executable", json!({}))]),
        json!([]),
    );
    let r = run_cli_with(
        dir.path(),
        &e,
        &[],
        &[
            ("PYTHONPATH", fixture_modules().as_os_str()),
            ("PATH", &path),
            (chaos_runner::PYTHON_ENV, "".as_ref()),
            ("VIRTUAL_ENV", "".as_ref()),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    let used = PathBuf::from(j["run"][0]["output"].as_str().expect("a path"));
    assert_eq!(used.parent(), Some(venv_bin.as_path()), "{j}");
}

#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_second_interrupt_kills_the_interpreter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("python.pid");
    let e = experiment(
        json!([]),
        json!([python(
            "sleeps",
            "sleeps_writing_pid",
            json!({"path": pid_file.to_str().expect("utf-8"), "seconds": 60})
        )]),
        json!([]),
    );
    let file = dir.path().join("e.json");
    std::fs::write(&file, e.to_string()).expect("write");
    let mut child = Command::new(bin())
        .args(["run", "--journal-path"])
        .arg(dir.path().join("journal.json"))
        .arg(&file)
        .env("PYTHONPATH", fixture_modules())
        .env(chaos_runner::PYTHON_ENV, venv_python())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the Python call never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let runner = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(runner, nix::sys::signal::Signal::SIGINT).expect("first SIGINT");
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(runner, nix::sys::signal::Signal::SIGINT).expect("second SIGINT");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1));
    let gone = Instant::now() + Duration::from_secs(3);
    while test_kit::process::alive(pid) && Instant::now() < gone {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !test_kit::process::alive(pid),
        "the interpreter {pid} outlived the runner"
    );
}

#[test]
fn without_an_interpreter_a_warning_then_a_failed_activity() {
    let e = experiment(
        json!([]),
        json!([json!({"type": "action", "name": "exists",
                      "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}}})]),
        json!([]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_cli(dir.path(), &e, &["--python", "/nonexistent/python9"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("module 'os.path' of activity 'exists' has no native driver and could not be checked: --python /nonexistent/python9: no such executable"),
        "{}",
        r.stderr
    );
    let j = r.journal.expect("journal");
    assert_eq!(j["run"][0]["status"], "failed");
    let exception = j["run"][0]["exception"][0].as_str().unwrap_or("");
    assert!(
        exception.contains("--python /nonexistent/python9: no such executable"),
        "{exception}"
    );
}

#[test]
fn no_interpreter_is_looked_for_without_python_activities() {
    let e = experiment(
        json!([probe_process("true", "true", json!([]), json!(0))]),
        json!([process("echo", "echo", json!(["hi"]))]),
        json!([]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_cli(dir.path(), &e, &["--python", "/nonexistent/python9"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("python9"), "{}", r.stderr);
    assert_eq!(r.journal.expect("journal")["status"], "completed");
}

/// Issue 20 §6: a value deeper than the bridge's answers may be is that call's failure,
/// at once, with a message saying so; a value within the limit is kept whole.
#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_a_value_nested_too_deep_fails_its_call_at_once() {
    let e = experiment(
        json!([]),
        json!([
            python("deep-enough", "nested", json!({"depth": 50})),
            python("too-deep", "nested", json!({"depth": 200})),
            python("after", "echo", json!({"message": "still here"})),
        ]),
        json!([]),
    );
    let (r, took) = run_bridged_within(&e, Duration::from_secs(60));
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: {}",
        r.stderr
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    let runs = j["run"].as_array().expect("runs");
    let mut depth = 0;
    let mut v = &runs[0]["output"];
    while let Some(inner) = v.get(0) {
        depth += 1;
        v = inner;
    }
    assert_eq!((depth, v), (50, &json!("bottom")), "{j}");
    assert_eq!(runs[1]["status"], "failed", "{j}");
    let exception = runs[1]["exception"].to_string();
    assert!(
        exception.contains("nested deeper than 100 levels"),
        "{exception}"
    );
    assert_eq!(
        runs[2]["output"],
        json!({"message": "still here", "times": 1})
    );
}

/// Issue 20 §11: a `python` provider's `timeout` is honoured: the call is abandoned,
/// the interpreter it was stuck in is replaced (the next call gets a new one), and the
/// journal says so.
#[test]
#[ignore = "compatibility tier: needs the Python virtualenv; scripts/test.sh runs it"]
fn compat_tier_a_python_timeout_abandons_the_call_and_replaces_the_interpreter() {
    let mut stuck = python("stuck", "sleeps", json!({"seconds": 60}));
    stuck["provider"]["timeout"] = json!(1);
    let e = experiment(
        json!([]),
        json!([
            python("pid-before", "pid", json!({})),
            stuck,
            python("pid-after", "pid", json!({})),
        ]),
        json!([]),
    );
    let (r, took) = run_bridged_within(&e, Duration::from_secs(90));
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: {}",
        r.stderr
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    let runs = j["run"].as_array().expect("runs");
    assert_eq!(runs[1]["status"], "failed", "{j}");
    let exception = runs[1]["exception"].to_string();
    assert!(
        exception.contains("did not return within 1 s")
            && exception.contains("interpreter was replaced"),
        "{exception}"
    );
    assert!(runs[1]["duration"].as_f64().is_some_and(|d| d < 5.0), "{j}");
    let (before, after) = (&runs[0]["output"], &runs[2]["output"]);
    assert!(before.is_u64() && after.is_u64(), "{j}");
    assert_ne!(before, after, "the stuck interpreter still serves calls");
    let old = before.as_u64().unwrap() as u32;
    assert!(
        !test_kit::process::alive(old),
        "the interpreter stuck in the call is still running"
    );
}

/// Issue 20 §6, chaos-runner's side: whatever the interpreter sends, an answer that
/// cannot be read fails its call at once (an interpreter standing in for Python answers
/// every call with a value nested deeper than serde_json reads).
#[test]
fn an_unreadable_answer_fails_its_call_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("python");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
echo '{"ready": "3.99", "executable": "a stand-in"}'
deep=$(printf '%0.s[' $(seq 200))
read -r line
id=$(echo "$line" | sed 's/.*"id":\([0-9]*\).*/\1/')
echo "{\"id\": $id, \"value\": $deep\"bottom\""
# Without an answer it can read, the call would wait this long.
sleep 30
"#,
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = experiment(
        json!([]),
        json!([json!({"type": "action", "name": "deep",
                      "provider": {"type": "python", "module": "anything", "func": "deep"}})]),
        json!([]),
    );
    let started = Instant::now();
    let r = run_cli(
        dir.path(),
        &e,
        &["--no-validation", "--python", fake.to_str().unwrap()],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    assert_eq!(j["run"][0]["status"], "failed", "{j}");
    let exception = j["run"][0]["exception"].to_string();
    assert!(
        exception
            .contains("the Python bridge's answer could not be read: recursion limit exceeded"),
        "{exception}"
    );
}
