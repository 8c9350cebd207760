//! Experiments run from inside the cluster (kind tier: `#[ignore]`d; scripts/kind-test.sh
//! runs it with `--ignored` after it has built and sourced the offline kind environment):
//! `lab cluster-run` builds and loads the chaos-runner image, runs the experiment as a
//! Job with the chaos-runner ServiceAccount (manifests/in-cluster), streams its log,
//! copies its journal out and exits with the runner's code. The tutorial's experiment
//! deviates before the fix (the naive consumer answers 500 once the provider is killed)
//! and completes after it (fallback answers); an experiment doing what the Role does not
//! allow gets 403 Forbidden, which its journal records, and nothing is done.

mod common;

use std::time::Duration;

use common::cluster::{ClusterLab, consumer_status_after};
use serde_json::{Value, json};

/// `lab cluster-run EXPERIMENT`: (exit code, journal, lab's stderr).
fn cluster_run(lab: &ClusterLab, experiment: &str, journal: &str) -> (Option<i32>, Value, String) {
    let path = lab.path(journal);
    let out = lab.lab(
        &[
            "cluster-run",
            experiment,
            "--journal-path",
            path.to_str().expect("utf-8 path"),
        ],
        Duration::from_secs(60 * 15),
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "lab cluster-run wrote no journal\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    let journal: Value = serde_json::from_str(&text).expect("the journal is JSON");
    (out.code(), journal, out.stderr)
}

#[test]
#[ignore = "kind tier: needs a real kind cluster; scripts/kind-test.sh runs it (make kind-test)"]
fn kind_tier_experiments_run_from_inside_the_cluster() {
    test_kit::tier::kind();
    let lab = ClusterLab::new("lab-in-cluster-", None);
    let minutes = |m: u64| Duration::from_secs(60 * m);
    lab.up("kind", minutes(20));
    let experiment = test_kit::repo::root().join("manifests/in-cluster/experiment.json");
    let experiment = experiment.to_str().expect("utf-8 path");

    // Before the fix: the provider killed from inside, the naive consumer's users get 500.
    let (code, journal, log) = cluster_run(&lab, experiment, "before.json");
    assert_eq!(
        (code, &journal["status"], &journal["deviated"]),
        (Some(1), &json!("completed"), &json!(true)),
        "{log}\n{journal:#}"
    );
    assert_eq!(consumer_status_after(&journal), Some(500), "{journal:#}");
    // The runner's own log was streamed, and it ran as the ServiceAccount, in a pod.
    assert!(
        log.contains("Running experiment"),
        "the runner's log:\n{log}"
    );
    let pod = lab.kubectl(&[
        "get",
        "pods",
        "--namespace",
        "cascade-lab-chaos",
        "-l",
        "batch.kubernetes.io/job-name=chaos-runner",
        "-o",
        "jsonpath={.items[0].spec.serviceAccountName} {.items[0].spec.containers[0].securityContext.readOnlyRootFilesystem}",
    ]);
    assert_eq!(pod.stdout.trim(), "chaos-runner true", "{}", pod.stderr);

    // After the fix: the same run completes, the users get fallbacks.
    lab.switch_and_restore("fix");
    let (code, journal, log) = cluster_run(&lab, experiment, "after.json");
    assert_eq!(
        (code, &journal["status"], &journal["deviated"]),
        (Some(0), &json!("completed"), &json!(false)),
        "{log}\n{journal:#}"
    );
    assert_eq!(consumer_status_after(&journal), Some(200), "{journal:#}");

    // Beyond the Role: deleting a Service is not among its rights.
    let forbidden = lab.path("forbidden-experiment.json");
    std::fs::write(
        &forbidden,
        json!({
            "title": "Tries what its Role does not allow",
            "description": "Deletes the provider's Service; the runner's Role has no right on Services.",
            "method": [{
                "type": "action",
                "name": "delete-the-provider-service",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.service.actions",
                    "func": "delete_service",
                    "arguments": {"name": "my-provider-service"}
                }
            }]
        })
        .to_string(),
    )
    .expect("write the experiment");
    let (_, journal, log) = cluster_run(
        &lab,
        forbidden.to_str().expect("utf-8"),
        "forbidden-journal.json",
    );
    let action = &journal["run"][0];
    assert_eq!(action["status"], "failed", "{log}\n{journal:#}");
    let exception = action["exception"].to_string();
    assert!(
        exception.contains("403") && exception.contains("Forbidden"),
        "the journal names the refusal: {exception}"
    );
    assert!(
        exception.contains("system:serviceaccount:cascade-lab-chaos:chaos-runner"),
        "refused to the runner's ServiceAccount: {exception}"
    );
    lab.kubectl(&["get", "service", "my-provider-service"])
        .expect_code(0, "the provider's Service is still there");

    lab.lab(test_kit::tier::kind_down_args(), minutes(3))
        .expect_code(0, "lab down");
}
