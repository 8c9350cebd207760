//! `lab consumer` and `lab challenge` on a real kind cluster (kind tier: `#[ignore]`d;
//! `scripts/kind-test.sh` runs it with `--ignored` and `CASCADE_KIND=1`): the consumer's
//! settings go into its Deployment's environment and are read back from it; the
//! `breaker` challenge's check runs the hang scenario on the running lab (users through
//! the node port, the provider's fault API through `kubectl port-forward`), fails from
//! the challenge's start (every user waits the 800 ms call timeout) and passes once the
//! breaker opens after 5 failures (the users' median in milliseconds); the lab goes back
//! to its mode afterwards; `lab consumer reset` empties the Deployment's settings.

mod common;

use std::time::Duration;

use common::Outcome;
use common::cluster::ClusterLab;
use serde_json::Value;

const CONSUMER: &str = "my-consumer-app";

/// The consumer container's environment, `NAME=value` per line.
fn consumer_env(lab: &ClusterLab) -> String {
    let out = lab.kubectl(&[
        "get",
        "deployment",
        CONSUMER,
        "-o",
        "jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value}{\"\\n\"}{end}",
    ]);
    out.expect_code(0, "kubectl get deployment my-consumer-app");
    out.stdout
}

/// The users' median latency a graded line reports ("... median latency 812 ms (goal:
/// ...").
fn median_ms(out: &Outcome) -> f64 {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("hang: median latency"))
        .unwrap_or_else(|| panic!("no graded median:\n{}\n{}", out.stdout, out.stderr));
    let figure = line
        .split("median latency ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|n| n.trim().parse::<f64>().ok());
    figure.unwrap_or_else(|| panic!("no figure in {line:?}"))
}

fn check(lab: &ClusterLab) -> Outcome {
    let out = lab.lab(&["challenge", "check"], Duration::from_secs(600));
    eprintln!("lab challenge check:\n{}\n{}", out.stdout, out.stderr);
    out
}

#[test]
#[ignore = "kind tier: needs a real kind cluster; scripts/kind-test.sh runs it (make kind-test)"]
fn kind_tier_a_challenge_fails_then_passes_on_a_real_kind_cluster() {
    test_kit::tier::kind();
    let lab = ClusterLab::new("lab-kind-challenge-", None);
    let minutes = |m: u64| Duration::from_secs(60 * m);
    lab.up("kind", minutes(20));

    // The challenge's start: the consumer's Deployment carries its settings.
    lab.lab(&["challenge", "start", "breaker"], minutes(5))
        .expect_code(0, "lab challenge start breaker");
    let env = consumer_env(&lab);
    assert!(
        env.lines()
            .any(|l| l == "CIRCUIT_FAILURE_THRESHOLD=1000000"),
        "{env}"
    );
    let shown = lab.lab(&["consumer", "show"], minutes(1));
    shown.expect_code(0, "lab consumer show");
    assert!(
        shown.stdout.contains("│ 1000000 ") && shown.stdout.contains("800 ms (default)"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stderr.contains(
            "read from the consumer's Deployment (target `kind`): --circuit-failures 1000000"
        ),
        "{}",
        shown.stderr
    );

    // A failing attempt: without the breaker every user waits the whole call timeout,
    // and gets the fallback: the median is the one goal missed. (Users failing here
    // were users sent to the consumer pod just replaced, resilience off: the check
    // waits for old pods to be gone and the node port to settle.)
    let failed = check(&lab);
    failed.expect_code(1, "the first check (breaker out of the way)");
    assert!(
        failed.stdout.contains("✓ hang: 0 of ")
            && failed.stdout.contains("✗ hang: median latency")
            && failed.stdout.contains("Not yet: 1 of the goals missed."),
        "{}",
        failed.stdout
    );
    let slow = median_ms(&failed);
    assert!(
        (700.0..1500.0).contains(&slow),
        "median {slow} ms: each user should wait about the 800 ms timeout"
    );
    // Back in the mode it had (`lab up`'s before) once the check is over.
    assert!(
        consumer_env(&lab)
            .lines()
            .any(|l| l == "CONSUMER_RESILIENCE=off"),
        "{}",
        consumer_env(&lab)
    );

    // A passing attempt: the breaker opens after 5 failures in a row.
    lab.lab(&["consumer", "set", "--circuit-failures", "5"], minutes(5))
        .expect_code(0, "lab consumer set --circuit-failures 5");
    let env = consumer_env(&lab);
    assert!(
        env.lines().any(|l| l == "CIRCUIT_FAILURE_THRESHOLD=5"),
        "{env}"
    );
    let passed = check(&lab);
    passed.expect_code(0, "the second check (breaker at 5)");
    assert!(
        passed.stdout.contains("✓ hang: median latency")
            && passed
                .stdout
                .contains("Passed: every goal of `breaker` is met"),
        "{}",
        passed.stdout
    );
    let fast = median_ms(&passed);
    assert!(fast < 100.0, "median {fast} ms with the breaker");

    let progress: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.path("state").join("challenges.json")).expect("progress"),
    )
    .expect("progress is JSON");
    assert_eq!(
        progress["challenges"]["breaker"]["passed"], true,
        "{progress}"
    );
    assert_eq!(
        progress["challenges"]["breaker"]["attempts"], 2,
        "{progress}"
    );

    // Reset: the Deployment is back to the consumer's defaults.
    lab.lab(&["consumer", "reset"], minutes(5))
        .expect_code(0, "lab consumer reset");
    let env = consumer_env(&lab);
    assert!(!env.contains("CIRCUIT_FAILURE_THRESHOLD"), "{env}");
    eprintln!("figures: median {slow:.0} ms without the breaker, {fast:.0} ms with it");
}
