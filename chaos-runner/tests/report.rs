//! What is made from journals (issues 14 §3, 15 §3): `run --junit/--summary` and the
//! `report` command, on journals of real runs against the test server.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Probes: the server's `/ok`, and `state` (a file in the run's folder) saying `up`.
/// The method writes `down` into it when `break_it`; the rollback writes `up` back.
fn state_experiment(title: &str, break_it: bool) -> Value {
    let s = server();
    let method = if break_it {
        "echo down > state"
    } else {
        "true"
    };
    let mut e = experiment(
        json!([
            probe_http("server-answers", &s.url("/ok"), json!(200)),
            probe_process(
                "state-is-up",
                "sh",
                json!(["-c", "cat state"]),
                json!({"type": "regex", "pattern": "^up", "target": "stdout"})
            )
        ]),
        json!([process("take-it-down", "sh", json!(["-c", method]))]),
        json!([process(
            "bring-it-up",
            "sh",
            json!(["-c", "echo up > state"])
        )]),
    );
    e["title"] = json!(title);
    e
}

/// Runs it in `dir` with `extra` options; the journal is `dir/journal.json`.
fn run_state(dir: &Path, title: &str, break_it: bool, extra: &[&str]) -> CliRun {
    std::fs::write(dir.join("state"), "up\n").expect("state");
    let mut args = vec!["--rollback-strategy", "always"];
    args.extend(extra);
    run_cli(dir, &state_experiment(title, break_it), &args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (name's last part, tests, failures, skipped) of each `<testsuite>`.
fn suites(xml: &str) -> Vec<(String, usize, usize, usize)> {
    xml.match_indices("<testsuite ")
        .map(|(i, _)| {
            let tag = &xml[i..i + xml[i..].find('>').unwrap_or(0)];
            let attr = |name: &str| {
                tag.find(&format!(" {name}=\""))
                    .map(|p| p + name.len() + 3)
                    .map(|p| tag[p..p + tag[p..].find('"').unwrap_or(0)].to_string())
                    .unwrap_or_default()
            };
            let n = |name: &str| attr(name).parse().unwrap_or(usize::MAX);
            let name = attr("name");
            let suffix = name.rsplit(": ").next().unwrap_or("").to_string();
            (suffix, n("tests"), n("failures"), n("skipped"))
        })
        .collect()
}

#[test]
fn a_deviated_run_writes_junit_and_a_summary_after_its_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (junit, summary) = (dir.path().join("junit.xml"), dir.path().join("summary.md"));
    // The summary is appended, as GitHub's step summary expects.
    std::fs::write(&summary, "earlier step output\n").expect("summary");
    let r = run_state(
        dir.path(),
        "state survives <b>down</b>",
        true,
        &[
            "--junit",
            junit.to_str().unwrap_or(""),
            "--summary",
            summary.to_str().unwrap_or(""),
        ],
    );
    assert_eq!(r.code, 1, "deviated: {}", r.stderr);
    assert_eq!(r.journal.expect("journal")["deviated"], true);

    let xml = read(&junit);
    assert_eq!(
        suites(&xml),
        vec![
            ("steady state before the method".into(), 2, 0, 0),
            ("method".into(), 1, 0, 0),
            ("steady state after the method".into(), 2, 1, 0),
            ("rollbacks".into(), 1, 0, 0),
            ("run".into(), 1, 1, 0),
        ]
    );
    assert!(
        xml.contains(
            "<testsuites name=\"state survives &lt;b&gt;down&lt;/b&gt;\" tests=\"7\" failures=\"2\""
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<failure type=\"tolerance\" message=\"probe &apos;state-is-up&apos; not in tolerance: expected {&quot;type&quot;:&quot;regex&quot;,&quot;pattern&quot;:&quot;^up&quot;,&quot;target&quot;:&quot;stdout&quot;}, got exit 0; stdout: down\">"),
        "{xml}"
    );
    assert!(xml.contains("<failure type=\"deviated\""), "{xml}");

    let md = read(&summary);
    assert!(
        md.starts_with(
            "earlier step output\n## ❌ deviated — state survives &lt;b&gt;down&lt;/b&gt;\n"
        ),
        "{md}"
    );
    assert!(
        md.contains("**Status:** completed · **Deviated:** yes"),
        "{md}"
    );
    assert!(md.contains("| before | state-is-up | {\"type\":\"regex\",\"pattern\":\"^up\",\"target\":\"stdout\"} | exit 0; stdout: up | ✅ met |"), "{md}");
    assert!(md.contains("| after | state-is-up | {\"type\":\"regex\",\"pattern\":\"^up\",\"target\":\"stdout\"} | exit 0; stdout: down | ❌ **not met** |"), "{md}");
    assert!(
        md.contains("| after | server-answers | 200 | HTTP 200: hello | ✅ met |"),
        "{md}"
    );
}

#[test]
fn a_completed_run_passes_in_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let r = run_state(
        dir.path(),
        "fine",
        false,
        &["--junit", junit.to_str().unwrap_or("")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let xml = read(&junit);
    assert!(
        suites(&xml)
            .iter()
            .all(|(_, _, failures, _)| *failures == 0),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuites name=\"fine\" tests=\"7\" failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn report_shows_two_real_journals_side_by_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(run_state(d, "the naive consumer", true, &[]).code, 1);
    std::fs::rename(d.join("journal.json"), d.join("before.json")).expect("rename");
    assert_eq!(run_state(d, "the resilient consumer", false, &[]).code, 0);
    std::fs::rename(d.join("journal.json"), d.join("after.json")).expect("rename");

    let out = Command::new(bin())
        .args(["report", "before.json", "after.json", "-o", "report.html"])
        .current_dir(d)
        .output()
        .expect("report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("INFO] Report written to report.html"),
        "{stderr}"
    );
    let html = read(&d.join("report.html"));
    for needle in [
        "<h2>the naive consumer</h2>",
        "<h2>the resilient consumer</h2>",
        "✗ deviated",
        "✓ passed",
        "status: completed",
        "deviated: yes",
        "✗ Failing probe: state-is-up — steady state after the method",
        "<pre class=\"expected\">{&quot;type&quot;:&quot;regex&quot;,&quot;pattern&quot;:&quot;^up&quot;,&quot;target&quot;:&quot;stdout&quot;}</pre>",
        "<pre class=\"got\">exit 0; stdout: down</pre>",
        "<svg class=\"timeline\"",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    // Opens with no network: nothing loaded or linked from elsewhere.
    for external in [
        "<script",
        "<link",
        "src=",
        "@import",
        "href=\"http",
        "url(http",
    ] {
        assert!(!html.contains(external), "{external} in the report");
    }

    // Markdown, to stdout by default.
    let out = Command::new(bin())
        .args([
            "report",
            "--format",
            "markdown",
            "before.json",
            "after.json",
        ])
        .current_dir(d)
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains("| before.json | the naive consumer | ❌ deviated | completed | yes |"),
        "{md}"
    );
    assert!(
        md.contains("| after.json | the resilient consumer | ✅ passed | completed | no |"),
        "{md}"
    );
}

#[test]
fn an_unreadable_journal_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(run_state(d, "fine", false, &[]).code, 0);
    let good = read(&d.join("journal.json"));
    std::fs::write(d.join("cut.json"), &good[..good.len() / 2]).expect("cut");
    let out = Command::new(bin())
        .args(["report", "journal.json", "cut.json", "-o", "report.html"])
        .current_dir(d)
        .output()
        .expect("report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ERROR] journal cut.json: line "),
        "{stderr}"
    );
    assert!(stderr.contains(" column "), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(d)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n != "journal.json" && n != "cut.json" && n != "state" && n != "experiment.json"
        })
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no report, no temporary file");

    // A report never replaces a journal.
    let out = Command::new(bin())
        .args(["report", "journal.json", "-o", "journal.json"])
        .current_dir(d)
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-o and JOURNAL name the same file"),
        "{stderr}"
    );
    assert_eq!(read(&d.join("journal.json")), good);
}

#[test]
fn unwritable_or_clashing_outputs_fail_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let missing = d.join("no-such-dir/out");
    let journal = d.join("journal.json");
    for (flag, value, says) in [
        (
            "--junit",
            missing.to_str().unwrap_or(""),
            "cannot be written",
        ),
        (
            "--summary",
            missing.to_str().unwrap_or(""),
            "cannot be written",
        ),
        (
            "--junit",
            journal.to_str().unwrap_or(""),
            "name the same file",
        ),
    ] {
        let r = run_state(d, "never runs", true, &[flag, value]);
        assert_eq!(r.code, 1, "{flag}: {}", r.stderr);
        assert!(
            r.stderr.contains(flag) && r.stderr.contains(says),
            "{}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("Running experiment"),
            "nothing ran: {}",
            r.stderr
        );
        assert_eq!(read(&d.join("state")), "up\n", "the method did not run");
        assert!(r.journal.is_none(), "no journal");
    }
}

/// Starts a run whose method (`in_rollback`: and whose rollback) sleeps, waits until the
/// sleep runs, and sends `signals` SIGINTs; returns (exit code, junit, summary, log).
/// With `in_rollback`, the first signal stops the method's sleep and the others are
/// sent once the rollback's runs (a first signal during the rollbacks would end them,
/// as in the reference; one before them does not).
fn interrupt(in_rollback: bool, signals: usize) -> (Option<i32>, String, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = format!(
        "{}.{}{}",
        50 + std::process::id() % 7,
        signals,
        u8::from(in_rollback)
    );
    let sleep = process("long", "sh", json!(["-c", format!("sleep {token}")]));
    let quick = process("quick", "true", json!([]));
    let method_token = format!("{token}9");
    let method_sleep = process(
        "first",
        "sh",
        json!(["-c", format!("sleep {method_token}")]),
    );
    let (method, rollbacks) = if in_rollback {
        (json!([method_sleep]), json!([sleep]))
    } else {
        (json!([sleep]), json!([quick]))
    };
    let e = experiment(json!([]), method, rollbacks);
    let file = dir.path().join("e.json");
    std::fs::write(&file, e.to_string()).expect("write");
    let (junit, summary) = (dir.path().join("j.xml"), dir.path().join("s.md"));
    let child = Command::new(bin())
        .args(["run", "--rollback-strategy", "always", "--journal-path"])
        .arg(dir.path().join("journal.json"))
        .arg("--junit")
        .arg(&junit)
        .arg("--summary")
        .arg(&summary)
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let wait_for = |token: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !process_alive(&format!("sleep {token}")) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut signals = signals;
    if in_rollback && signals > 0 {
        wait_for(&method_token);
        nix::sys::signal::kill(pid, Signal::SIGINT).expect("signal");
        signals -= 1;
    }
    wait_for(&token);
    for _ in 0..signals {
        nix::sys::signal::kill(pid, Signal::SIGINT).expect("signal");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), read(&junit), read(&summary), log)
}

#[test]
fn an_interrupted_run_still_writes_junit_and_summary() {
    let (code, xml, md, _) = interrupt(false, 1);
    assert_eq!(code, Some(1));
    assert!(
        xml.contains("<testcase name=\"long\" classname=\"method\""),
        "{xml}"
    );
    assert!(
        xml.contains("<skipped message=\"interrupted while it ran: no result\"/>"),
        "{xml}"
    );
    assert!(
        xml.contains("<failure type=\"status\" message=\"the run ended with status interrupted\""),
        "{xml}"
    );
    assert!(
        md.contains("**Status:** interrupted · **Deviated:** no"),
        "{md}"
    );
    assert!(md.contains("**Method:** long ❌ **interrupted**"), "{md}");
}

#[test]
fn a_second_signal_still_writes_junit_and_summary() {
    let (code, xml, md, log) = interrupt(true, 2);
    assert_eq!(code, Some(1));
    assert!(
        log.contains("Second termination signal: exiting now"),
        "{log}"
    );
    assert!(
        xml.contains("<failure type=\"status\" message=\"the run ended with status interrupted\""),
        "{xml}"
    );
    assert!(md.contains("**Status:** interrupted"), "{md}");
}
