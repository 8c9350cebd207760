//! The `chaos-runner` binary: exit codes, log lines, load errors, interruption.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn completed_run_exits_zero_with_reference_log_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server();
    let e = experiment(
        json!([probe_http(
            "all-services-are-healthy",
            &s.url("/ok"),
            json!(200)
        )]),
        json!([process("do-it", "true", json!([]))]),
        json!([]),
    );
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = regex::Regex::new(
        r"(?m)^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO\] Probe: all-services-are-healthy$",
    )
    .expect("re");
    assert!(line.is_match(&r.stderr), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("INFO] Experiment ended with status: completed")
    );
    assert!(!r.stderr.contains('\x1b'), "no colour when not a TTY");
    assert_eq!(r.journal.expect("journal written")["status"], "completed");
}

#[test]
fn deviated_run_exits_one_and_logs_critical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("marker");
    std::fs::write(&marker, "").expect("write");
    let m = marker.display().to_string();
    let e = experiment(
        json!([probe_process(
            "marker-exists",
            "test",
            json!(["-f", m]),
            json!(0)
        )]),
        json!([process("remove", "rm", json!([m]))]),
        json!([]),
    );
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("CRITICAL] Steady state probe 'marker-exists' is not in the given tolerance so failing this experiment"), "{}", r.stderr);
    assert!(r.stderr.contains("Experiment ended with status: deviated"));
    let j = r.journal.expect("journal");
    assert_eq!(
        (j["status"].clone(), j["deviated"].clone()),
        (json!("completed"), json!(true))
    );
}

#[test]
fn hypothesis_not_met_before_method_exits_one_saying_why_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = experiment(
        json!([probe_process("unhealthy", "false", json!([]), json!(0))]),
        json!([]),
        json!([]),
    );
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 1);
    let last = r.stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("steady-state hypothesis was not met before the method")
            && last.contains("'unhealthy'"),
        "{last}"
    );
    assert_eq!(
        r.journal.expect("journal")["status"],
        "completed",
        "journal identical to the reference's"
    );
}

#[test]
fn invalid_experiment_reports_every_problem_and_exits_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = json!({"title": "", "method": [{"type": "nope", "name": "x", "provider": {"type": "http"}}, {"ref": "ghost"}]});
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 1);
    for needle in [
        "/title: experiment requires a title",
        "/description: experiment requires a description",
        "/method/0/type: 'nope' is not a supported activity type",
        "/method/0/provider/url: a HTTP activity must have a URL",
        "/method/1/ref: referenced activity 'ghost' could not be found",
        "5 problems found",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stderr
        );
    }
    assert!(r.journal.is_none(), "no run, no journal");
    // --no-validation runs it anyway (and the bad ref aborts it).
    let r = run_cli(
        dir.path(),
        &json!({"title": "t", "description": "d", "method": [{"ref": "ghost"}]}),
        &["--no-validation"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.journal.expect("journal")["status"], "aborted");
}

#[test]
fn load_errors_name_file_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\n  \"title\": \"t\",\n  \"method\": [,]\n}\n").expect("write");
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(&bad_yaml, "title: t\nmethod:\n  - a: [1, 2\n").expect("write");
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["run", bad_json.to_str().unwrap_or("")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("bad.json:3:14: invalid JSON"), "{err}");
    // Cut short after a newline: the position is the start of the last line, counted
    // from 1 like an editor does (serde_json itself says column 0).
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, "{\n  \"title\": \"t\",\n").expect("write");
    let (code, err) = run(&["validate", truncated.to_str().unwrap_or("")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("truncated.json:3:1: invalid JSON"), "{err}");
    let (code, err) = run(&["validate", bad_yaml.to_str().unwrap_or("")]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("bad.yaml:") && err.contains("invalid YAML"),
        "{err}"
    );
    let (code, err) = run(&["run", "missing.json"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("missing.json: path does not exist"), "{err}");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        json!({"title": "t", "description": "d", "method": []}).to_string(),
    )
    .expect("write");
    let (code, err) = run(&[
        "run",
        "--var-file",
        "nope.json",
        good.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("var file nope.json: cannot read"), "{err}");
    let broken_vars = dir.path().join("v.json");
    std::fs::write(&broken_vars, "{\"configuration\": }").expect("write");
    let (code, err) = run(&[
        "run",
        "--var-file",
        broken_vars.to_str().unwrap_or(""),
        good.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("v.json: line 1 column 19: invalid JSON"),
        "{err}"
    );
    let (code, err) = run(&["run", "--var", "novalue", good.to_str().unwrap_or("")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--var 'novalue'"), "{err}");
    let (code, _) = run(&["run", "--dry", "everything", good.to_str().unwrap_or("")]);
    assert_ne!(code, Some(0), "bad flag value");
}

#[test]
fn yaml_experiment_from_url_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("j.json");
    let out = Command::new(bin())
        .args([
            "run",
            "--journal-path",
            journal.to_str().unwrap_or(""),
            &server().url("/experiment.yaml"),
        ])
        .output()
        .expect("run");
    let r = cli_result(out, &journal);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.journal.expect("journal")["experiment"]["title"],
        "from yaml"
    );
    let out = Command::new(bin())
        .args(["validate", &server().url("/status/404")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot fetch: HTTP status 404"));
}

#[test]
fn validate_and_discover_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        json!({"title": "t", "description": "d", "method": [], "controls": []}).to_string(),
    )
    .expect("write");
    let out = Command::new(bin())
        .args(["validate", good.to_str().unwrap_or("")])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("experiment syntax and semantic look valid"));
    assert!(!err.contains("WARNING"), "{err}");
    let out = Command::new(bin()).arg("discover").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let d: Value = serde_json::from_slice(&out.stdout).expect("discover prints JSON");
    #[cfg(feature = "kubernetes")]
    {
        assert_eq!(d["drivers"][0]["name"], "kubernetes");
        assert_eq!(
            d["drivers"][0]["activities"].as_array().map(Vec::len),
            Some(chaosk8s::catalog().len())
        );
    }
    // The toxiproxy driver is built in with or without the feature.
    let names: Vec<&str> = d["drivers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    let expected: &[&str] = if cfg!(feature = "kubernetes") {
        &["kubernetes", "toxiproxy"]
    } else {
        &["toxiproxy"]
    };
    assert_eq!(names, expected);
}

#[test]
fn log_file_gets_debug_and_secrets_are_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = experiment(
        json!([]),
        json!([process("show", "echo", json!(["${token}"]))]),
        json!([]),
    );
    e["secrets"] = json!({"s": {"token": "super-secret-value"}});
    let log = dir.path().join("run.log");
    let r = run_cli(
        dir.path(),
        &e,
        &["--log-file", log.to_str().unwrap_or(""), "--verbose"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(text.contains("DEBUG]"), "{text}");
    assert!(text.contains("***"), "the secret appears masked: {text}");
    assert!(!text.contains("super-secret-value") && !r.stderr.contains("super-secret-value"));
    // The journal holds the output itself, as the reference's does.
    assert_eq!(
        r.journal.expect("journal")["run"][0]["output"]["stdout"],
        "super-secret-value\n"
    );
}

#[test]
fn json_log_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = experiment(json!([]), json!([]), json!([]));
    let r = run_cli(dir.path(), &e, &["--log-format", "json"]);
    assert_eq!(r.code, 0);
    let first: Value =
        serde_json::from_str(r.stderr.lines().next().unwrap_or("")).expect("JSON lines");
    assert_eq!(first["levelname"], "INFO");
    assert_eq!(first["message"], "Validating the experiment's syntax");
}

/// Runs an experiment whose method sleeps 40 s, sends `signal` once the sleep has
/// started, and checks what every interruption must give: exit 1 at once, the running
/// activity's process gone, a journal with status `interrupted`. Returns the journal.
fn interrupt_run(rollback_strategy: &str, signal: Signal) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    // A distinctive sleep length identifies our child process in /proc.
    let token = format!(
        "{}.{}{}",
        40 + std::process::id() % 7,
        rollback_strategy.len(),
        signal as i32
    );
    let e = experiment(
        json!([]),
        json!([
            process("long", "sh", json!(["-c", format!("sleep {token}")])),
            process("after", "true", json!([]))
        ]),
        json!([process("rb", "true", json!([]))]),
    );
    let file = dir.path().join("e.json");
    std::fs::write(&file, e.to_string()).expect("write");
    let journal = dir.path().join("j.json");
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args([
            "run",
            "--rollback-strategy",
            rollback_strategy,
            "--journal-path",
            journal.to_str().unwrap_or(""),
            file.to_str().unwrap_or(""),
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait (bounded) for the sleep to start, then Ctrl-C the runner.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !process_alive(&format!("sleep {token}")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).expect("signal");
    let status = child.wait().expect("wait");
    let elapsed = started.elapsed();
    assert!(
        !process_alive(&format!("sleep {token}")),
        "the running activity's process was killed"
    );
    assert_eq!(status.code(), Some(1), "{signal}");
    assert!(
        elapsed < Duration::from_secs(30),
        "did not wait for the 40 s sleep"
    );
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal written"))
            .expect("json");
    assert_eq!(j["status"], "interrupted", "{signal}");
    j
}

#[test]
fn sigterm_interrupts_like_ctrl_c() {
    let j = interrupt_run("always", Signal::SIGTERM);
    assert_eq!(
        statuses(&j["rollbacks"]),
        vec![("rb".to_string(), "succeeded".to_string())]
    );
}

#[test]
fn ctrl_c_interrupts_and_rollbacks_follow_the_strategy() {
    let j = interrupt_run("default", Signal::SIGINT);
    assert_eq!(
        statuses(&j["run"]),
        vec![("long".to_string(), "<none>".to_string())],
        "as the reference: no status"
    );
    assert_eq!(
        j["rollbacks"],
        json!([]),
        "default strategy: no rollbacks on interruption"
    );
    let j = interrupt_run("always", Signal::SIGINT);
    assert_eq!(
        statuses(&j["rollbacks"]),
        vec![("rb".to_string(), "succeeded".to_string())]
    );
}
