//! Hostile or broken input to `chaos-runner`: every case ends with a clear error naming
//! what was wrong and where, a non-zero exit that is not a panic (101), and, once a run
//! has started, a journal.

mod common;

use std::path::Path;
use std::process::Command;

use common::{CliRun, assert_refused_by_validation, bin, cli_result, experiment, process, run_cli};
use serde_json::{Value, json};

/// No panic: Rust exits 101 and prints "panicked" when one escapes.
fn assert_no_panic(run: &CliRun) {
    assert_ne!(run.code, 101, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

fn with_pause_after(pause: Value) -> Value {
    let mut action = process("a", "true", json!(""));
    action["pauses"] = json!({ "after": pause });
    experiment(json!([]), json!([action]), json!([]))
}

#[test]
fn a_huge_pause_is_refused_at_validation_naming_the_key() {
    for pause in [json!(1e300), json!(1e19), json!(-1)] {
        let dir = tempfile::tempdir().unwrap();
        let run = run_cli(dir.path(), &with_pause_after(pause.clone()), &[]);
        assert_no_panic(&run);
        assert_eq!(run.code, 1, "{pause}: {}", run.stderr);
        assert!(
            run.stderr.contains("/method/0/pauses/after"),
            "{pause}: {}",
            run.stderr
        );
        assert!(run.journal.is_none(), "validation failed, so nothing ran");
    }
}

#[test]
fn a_huge_pause_from_a_variable_aborts_the_run_with_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = with_pause_after(json!("${p}"));
    e["configuration"] = json!({ "p": 1 });
    let run = run_cli(dir.path(), &e, &["--var", "p:float=1e300"]);
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("pauses.after must be at most"),
        "{}",
        run.stderr
    );
    let journal = run.journal.expect("a started run writes its journal");
    assert_eq!(journal["status"], "aborted", "{journal}");
}

#[test]
fn a_huge_hypothesis_frequency_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let probe = json!({"type": "probe", "name": "p", "tolerance": 0,
        "provider": {"type": "process", "path": "true"}});
    let e = experiment(
        json!([probe]),
        json!([process("a", "true", json!(""))]),
        json!([]),
    );
    let run = run_cli(
        dir.path(),
        &e,
        &[
            "--hypothesis-strategy",
            "continuously",
            "--hypothesis-frequency",
            "1e300",
        ],
    );
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--hypothesis-frequency must be at most"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unwritable_journal_path_is_found_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let e = experiment(
        json!([]),
        json!([process(
            "touch",
            "touch",
            json!(marker.display().to_string())
        )]),
        json!([]),
    );
    let file = dir.path().join("experiment.json");
    std::fs::write(&file, e.to_string()).unwrap();
    let journal = dir.path().join("no-such-folder/journal.json");
    let out = Command::new(bin())
        .args(["run", "--journal-path"])
        .arg(&journal)
        .arg(&file)
        .output()
        .unwrap();
    let run = cli_result(out, &journal);
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--journal-path"), "{}", run.stderr);
    assert!(
        !marker.exists(),
        "the action ran although its journal could not be written"
    );
}

fn validate(dir: &Path, name: &str, bytes: &[u8]) -> CliRun {
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new(bin())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    cli_result(out, &dir.join("no-journal"))
}

#[test]
fn a_byte_order_mark_is_accepted_in_json_and_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let e = experiment(
        json!([]),
        json!([process("a", "true", json!(""))]),
        json!([]),
    );
    let mut json_bytes = "\u{feff}".as_bytes().to_vec();
    json_bytes.extend(e.to_string().as_bytes());
    let run = validate(dir.path(), "e.json", &json_bytes);
    assert_eq!(run.code, 0, "JSON with a BOM: {}", run.stderr);
    let yaml = "\u{feff}title: t\ndescription: d\nmethod:\n  - type: action\n    name: a\n    provider:\n      type: process\n      path: \"true\"\n";
    let run = validate(dir.path(), "e.yaml", yaml.as_bytes());
    assert_eq!(run.code, 0, "YAML with a BOM: {}", run.stderr);
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let run = validate(dir.path(), "e.json", b"{\n  \"title\": \"caf\xe9\"\n}\n");
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("e.json:2:16"), "{}", run.stderr);
    assert!(run.stderr.contains("UTF-8"), "{}", run.stderr);
}

fn validate_url(url: &str) -> CliRun {
    let out = Command::new(bin())
        .args(["validate", url])
        .output()
        .unwrap();
    cli_result(out, Path::new("/nonexistent/journal"))
}

#[test]
fn an_experiment_url_error_says_what_went_wrong() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = validate_url(&format!("http://127.0.0.1:{port}/e.json"));
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
}

#[test]
fn an_experiment_url_larger_than_the_cap_is_refused() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/e.json", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 314572800\r\n\r\n{",
            );
        }
    });
    let run = validate_url(&url);
    assert_no_panic(&run);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("larger than 10 MiB"), "{}", run.stderr);
}

#[test]
fn repeated_keys_are_named_with_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let run = validate(
        dir.path(),
        "e.json",
        br#"{"title": "t", "description": "d", "method": [], "method": []}"#,
    );
    assert_eq!(run.code, 0, "a warning, not an error: {}", run.stderr);
    assert!(
        run.stderr
            .contains("a key appears more than once in /: method"),
        "{}",
        run.stderr
    );
    let run = validate(
        dir.path(),
        "e.yaml",
        b"title: a\ntitle: b\ndescription: d\nmethod: []\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or("");
    assert!(
        first.contains("e.yaml:2:1: invalid YAML: duplicate mapping key: title"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.trim().lines().count(),
        1,
        "one line: {}",
        run.stderr
    );
}

#[test]
fn huge_provider_timeouts_are_refused_and_never_panic() {
    let process = json!({"type": "action", "name": "a",
        "provider": {"type": "process", "path": "true", "timeout": 1e19}});
    let http = json!({"type": "probe", "name": "h",
        "provider": {"type": "http", "url": "http://127.0.0.1:1/", "timeout": [1, 1e300]}});
    for (activity, field) in [(process, "process timeout"), (http, "HTTP timeout")] {
        let dir = tempfile::tempdir().unwrap();
        let e = experiment(json!([]), json!([activity]), json!([]));
        let run = run_cli(dir.path(), &e, &[]);
        assert_no_panic(&run);
        assert_eq!(run.code, 1, "{field}: {}", run.stderr);
        assert!(
            run.stderr.contains("/method/0/provider/timeout"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("a {field} must be at most")),
            "{}",
            run.stderr
        );
        // Without validation the run still ends cleanly, with a journal.
        let run = run_cli(dir.path(), &e, &["--no-validation"]);
        assert_no_panic(&run);
        assert!(run.journal.is_some(), "{field}: {}", run.stderr);
    }
}

/// A process that prints more than the journal keeps (10 MiB per stream): the first
/// 10 MiB are kept, and the journal says how much there was.
#[test]
fn a_flood_of_output_is_kept_to_its_first_10_mib() {
    let dir = tempfile::tempdir().unwrap();
    let flood = process("flood", "sh", json!("-c 'yes | head -c 15000000'"));
    let e = experiment(json!([]), json!([flood]), json!([]));
    let run = run_cli(dir.path(), &e, &[]);
    assert_no_panic(&run);
    let journal = run.journal.expect("journal");
    let stdout = journal["run"][0]["output"]["stdout"]
        .as_str()
        .expect("stdout kept");
    assert!(
        stdout.ends_with("[chaos-runner kept the first 10 MiB of 15000000 bytes]"),
        "{}",
        &stdout[stdout.len().saturating_sub(80)..]
    );
    assert!(
        stdout.len() < 11 * 1024 * 1024,
        "{} bytes kept",
        stdout.len()
    );
}

#[test]
fn newer_keys_are_checked_or_named_never_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut e = experiment(
        json!([]),
        json!([process("a", "true", json!([]))]),
        json!([]),
    );
    e["runtime"] = json!({
        "hypothesis": {"strategy": "sometimes"},
        "rollbacks": {"strategy": "always", "parallel": true},
        "telemetry": {}
    });
    e["contributions"] = json!({"reliability": "high", "security": "huge"});
    e["extensions"] = json!([{"name": "chaosreliably", "objective_id": "x"}]);
    assert_refused_by_validation(
        &e,
        &[],
        &[
            "/runtime/hypothesis/strategy: unknown hypothesis strategy sometimes",
            "/runtime/rollbacks/parallel: not used by chaos-runner",
            "/runtime/telemetry: not used by chaos-runner",
            "/contributions/security: a contribution is one of none, low, medium, high",
        ],
    );
    // Valid, the run keeps every key in its journal as written.
    e["runtime"]["hypothesis"]["strategy"] = json!("before-method-only");
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.journal.expect("journal");
    assert_eq!(j["experiment"]["runtime"], e["runtime"]);
    assert_eq!(j["experiment"]["contributions"], e["contributions"]);
    assert_eq!(j["experiment"]["extensions"], e["extensions"]);
}

#[test]
fn vault_secrets_are_refused_only_where_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = json!({"type": "vault", "path": "secret/app", "key": "token"});
    let mut e = experiment(
        json!([]),
        json!([process("a", "true", json!([]))]),
        json!([]),
    );
    e["secrets"] = json!({"app": {"token": vault, "plain": "p"}});
    // Declared, never used: a warning, and the run goes on.
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("/secrets/app/token: secret 'app.token' comes from Vault"),
        "{}",
        r.stderr
    );
    assert_eq!(r.journal.expect("journal")["status"], "completed");
    // Used through ${token}: refused before anything runs, naming what uses it.
    e["method"][0]["provider"]["arguments"] = json!(["${token}"]);
    let r = run_cli(dir.path(), &e, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("/secrets/app/token: secret 'app.token' comes from Vault, which chaos-runner cannot read (only static values and env), and is used by ${token}"),
        "{}",
        r.stderr
    );
    let r = run_cli(dir.path(), &e, &["--no-validation"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("secret 'app.token': type 'vault' is not supported"),
        "{}",
        r.stderr
    );
}

/// A `python` provider's `timeout` is checked as a process's is (issue 20 §11).
#[test]
fn a_python_timeout_that_is_not_a_number_is_a_validation_problem() {
    for (timeout, message) in [
        (json!("banana"), "a Python timeout must be a number"),
        (json!(-1), "a Python timeout must not be negative"),
        (json!(1e19), "a Python timeout must be at most"),
    ] {
        let activity = json!({"type": "action", "name": "a",
            "provider": {"type": "python", "module": "os", "func": "getcwd", "timeout": timeout}});
        let e = experiment(json!([]), json!([activity]), json!([]));
        assert_refused_by_validation(&e, &[], &["/method/0/provider/timeout", message]);
    }
}
