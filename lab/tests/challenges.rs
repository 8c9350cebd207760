//! `lab consumer` and `lab challenge`: the learner tunes the consumer through `lab`, and
//! `check` grades a scenario run against the challenge's goals, end to end with real
//! processes on 127.0.0.1: a failing attempt (what missed, by how much) and a passing one.

mod common;

use std::time::Duration;

use common::{Lab, Outcome};
use serde_json::Value;

fn check(lab: &Lab) -> Outcome {
    common::Running::start(&mut lab.command(&["challenge", "check"])).wait(Duration::from_secs(180))
}

fn progress(lab: &Lab) -> Value {
    let text =
        std::fs::read_to_string(lab.state_dir().join("challenges.json")).expect("no progress file");
    serde_json::from_str(&text).expect("progress is JSON")
}

#[test]
fn consumer_settings_restart_a_running_consumer_with_its_flags() {
    let lab = Lab::new();
    lab.up(&["--mode", "after"]);
    let pid = lab.pid("my-consumer-app").unwrap();
    let outcome = lab.run(&[
        "consumer",
        "set",
        "--call-timeout",
        "1.2s",
        "--retries",
        "2",
    ]);
    outcome.expect_code(0, "lab consumer set");
    let restarted = lab.pid("my-consumer-app").unwrap();
    assert_ne!(pid, restarted, "the consumer was not restarted");
    let cmdline = std::fs::read(format!("/proc/{restarted}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let joined = args.join(" ");
    assert!(joined.contains("--call-timeout-ms 1200"), "{joined}");
    assert!(joined.contains("--retries 2"), "{joined}");
    let shown = lab.run(&["consumer", "show"]);
    assert!(shown.stdout.contains("1200ms"), "{}", shown.stdout);
    assert!(shown.stdout.contains("256 (default)"), "{}", shown.stdout);
    // Kept across `lab down` and `lab up`.
    lab.run(&["down"]).expect_code(0, "lab down");
    lab.up(&["--mode", "after"]);
    let again = lab.pid("my-consumer-app").unwrap();
    let cmdline =
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{again}/cmdline")).unwrap())
            .replace('\0', " ");
    assert!(cmdline.contains("--call-timeout-ms 1200"), "{cmdline}");
    lab.run(&["consumer", "reset"])
        .expect_code(0, "lab consumer reset");
    let reset = lab.pid("my-consumer-app").unwrap();
    let cmdline =
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{reset}/cmdline")).unwrap())
            .replace('\0', " ");
    assert!(!cmdline.contains("--call-timeout-ms"), "{cmdline}");
    lab.run(&["down"]).expect_code(0, "lab down");
}

#[test]
fn bad_consumer_settings_are_refused_naming_the_flag() {
    let lab = Lab::new();
    for (flag, value) in [
        ("--retries", "11"),
        ("--call-timeout", "0ms"),
        ("--retry-budget", "150"),
        ("--circuit-failures", "-1"),
    ] {
        let outcome = lab.run(&["consumer", "set", flag, value]);
        assert_eq!(
            outcome.code(),
            Some(2),
            "{flag} {value}: {}",
            outcome.stderr
        );
        outcome.expect_stderr(flag);
    }
    let outcome = lab.run(&[
        "consumer",
        "set",
        "--retry-backoff",
        "500ms",
        "--retry-backoff-max",
        "100ms",
    ]);
    assert_eq!(outcome.code(), Some(1));
    outcome
        .expect_stderr("--retry-backoff-max (100ms) must not be less than --retry-backoff (500ms)");
    assert!(!lab.state_dir().join("consumer-settings.json").exists());
    let outcome = lab.run(&["challenge", "check"]);
    assert_eq!(outcome.code(), Some(1));
    outcome.expect_stderr("no challenge started");
}

/// `breaker`: started from a consumer whose breaker never opens, the check misses the
/// median-latency goal and says by how much; with the breaker back it passes. Progress
/// counts both attempts.
#[test]
fn the_breaker_challenge_fails_then_passes_once_the_circuit_may_open() {
    let lab = Lab::new();
    let start = lab.run(&["challenge", "start", "breaker"]);
    start.expect_code(0, "lab challenge start breaker");
    assert!(
        start
            .stdout
            .contains("the users' median latency is under 100 ms"),
        "{}",
        start.stdout
    );

    let failed = check(&lab);
    assert_eq!(
        failed.code(),
        Some(1),
        "{}\n{}",
        failed.stdout,
        failed.stderr
    );
    let miss = failed
        .stdout
        .lines()
        .find(|l| l.contains("✗ hang: median latency"))
        .unwrap_or_else(|| panic!("no miss in\n{}", failed.stdout));
    assert!(
        miss.contains("(goal: under 100 ms):") && miss.ends_with("ms over"),
        "{miss}"
    );
    assert!(failed.stdout.contains("✓ hang: 0 of"), "{}", failed.stdout);
    assert!(
        failed.stdout.contains("Hint: after a few failed calls"),
        "{}",
        failed.stdout
    );
    assert_eq!(progress(&lab)["challenges"]["breaker"]["passed"], false);
    lab.assert_nothing_left();

    lab.run(&["consumer", "set", "--circuit-failures", "5"])
        .expect_code(0, "lab consumer set");
    let passed = check(&lab);
    assert_eq!(
        passed.code(),
        Some(0),
        "{}\n{}",
        passed.stdout,
        passed.stderr
    );
    assert!(
        passed
            .stdout
            .contains("Passed: every goal of `breaker` is met with --circuit-failures 5."),
        "{}",
        passed.stdout
    );
    let progress = progress(&lab);
    assert_eq!(progress["current"], "breaker");
    assert_eq!(progress["challenges"]["breaker"]["attempts"], 2);
    assert_eq!(progress["challenges"]["breaker"]["passed"], true);
    let list = lab.run(&["challenge", "list"]);
    assert!(
        list.stdout.contains("passed (2 attempts)"),
        "{}",
        list.stdout
    );
    lab.assert_nothing_left();
}

/// `latency-budget`: the default 800 ms timeout never serves the 1.5 s provider (the
/// check says how many points short); a timeout of 1.75 s (as far from the provider's
/// 1.5 s as from the users' 2 s) serves it and still answers within 2 s when the
/// provider hangs.
#[test]
fn the_latency_budget_challenge_passes_with_a_timeout_between_latency_and_patience() {
    let lab = Lab::new();
    lab.run(&["challenge", "start", "latency-budget"])
        .expect_code(0, "lab challenge start latency-budget");
    let failed = check(&lab);
    assert_eq!(
        failed.code(),
        Some(1),
        "{}\n{}",
        failed.stdout,
        failed.stderr
    );
    assert!(failed.stdout.contains("✗ slow: 0 of"), "{}", failed.stdout);
    assert!(
        failed
            .stdout
            .contains("(0.0 %, goal: at least 90 %): 90.0 points short"),
        "{}",
        failed.stdout
    );

    lab.run(&["consumer", "set", "--call-timeout", "1750ms"])
        .expect_code(0, "lab consumer set");
    let passed = check(&lab);
    assert_eq!(
        passed.code(),
        Some(0),
        "{}\n{}",
        passed.stdout,
        passed.stderr
    );
    for part in ["✓ slow:", "✓ hang:"] {
        assert_eq!(
            passed.stdout.matches(part).count(),
            2,
            "{part}\n{}",
            passed.stdout
        );
    }
    lab.assert_nothing_left();
}
