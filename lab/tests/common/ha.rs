//! Replicas and nodes under fire (kind tier, a cluster with two workers): the `ha-after`
//! overlay spread over the workers, users' traffic from `lab traffic --serve`, and the
//! experiments experiments/ha-*.json: one provider pod terminated (chaos-runner and the
//! Python `chaos`), a worker drained (chaostoolkit-kubernetes's drain_nodes: natively in
//! chaos-runner, and in the Python `chaos`), a worker's container killed (`lab node
//! stop`, chaos-runner), with the time until the provider has all its replicas back
//! measured.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::ClusterLab;
use super::{Running, get};

/// What the node-failure run measured.
#[derive(Debug)]
pub struct NodeFailure {
    /// `lab node stop` until the Node object is no longer Ready.
    pub not_ready_after: Duration,
    /// `lab node stop` until three provider pods are ready, none on the failed node.
    pub replaced_after: Duration,
    /// Whether the users' error rate stayed within the experiment's 5 %.
    pub users_unaffected: bool,
    /// The experiment's end (its rollback ran `lab node start`) until the node is Ready.
    pub rejoined_after: Duration,
}

pub struct Measured {
    pub drain: Duration,
    pub node_failure: NodeFailure,
}

/// Waits for both Deployments' rollouts (`kubectl rollout status`).
fn rolled_out(lab: &ClusterLab) {
    for deployment in ["my-provider-app", "my-consumer-app"] {
        lab.run(
            "kubectl",
            &[
                "rollout",
                "status",
                &format!("deployment/{deployment}"),
                "--timeout=300s",
            ],
            Duration::from_secs(360),
        )
        .expect_code(0, &format!("rollout of {deployment}"));
    }
}

pub fn replicas_and_nodes_under_fire(lab: &ClusterLab, cluster: &str) -> Measured {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    lab.kubectl(&["apply", "-k", "manifests/overlays/ha-after"])
        .expect_code(0, "kubectl apply -k manifests/overlays/ha-after");
    rolled_out(lab);
    let workers: BTreeSet<String> =
        [format!("{cluster}-worker"), format!("{cluster}-worker2")].into();
    assert_eq!(
        wait_for_provider(lab, 3, None, minutes(2)),
        workers,
        "three provider pods spread over both workers"
    );

    let port = free_port();
    let users = format!("http://127.0.0.1:{port}/users/ok?seconds=5&max_error_rate=0.05");
    let mut traffic = Running::start(&mut lab.command(
        env!("CARGO_BIN_EXE_lab"),
        &[
            "traffic",
            "--rate",
            "10",
            "--duration",
            "1200",
            "--serve",
            &format!("127.0.0.1:{port}"),
        ],
    ));
    let deadline = Instant::now() + minutes(1);
    while !get(&users).is_ok_and(|(s, _, _)| s == 200) {
        assert!(
            Instant::now() < deadline,
            "the users' traffic never settled at ok"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // One provider pod terminated: both runners, the users unaffected.
    let chaos = test_kit::tier::chaos_bin();
    for runner in ["chaos-runner", chaos.to_str().expect("utf-8 path")] {
        let journal = run_experiment(lab, runner, "ha-provider-pod-terminated.json", &users, &[]);
        assert_eq!(
            (&journal["status"], &journal["deviated"]),
            (&Value::from("completed"), &Value::from(false)),
            "{runner}: {journal:#}"
        );
        // A failed action does not fail a run: the pod must really have been terminated.
        assert_eq!(
            journal["run"][0]["status"], "succeeded",
            "{runner}: {journal:#}"
        );
        wait_for_provider(lab, 3, None, minutes(2));
    }

    // A worker drained and uncordoned by the rollback, under both runners (chaos-runner
    // natively, the Python chaos with chaostoolkit-kubernetes). Each drain leaves every
    // pod on the other worker: they are spread again after it, so the next fault finds a
    // share on each node, as in a cluster that has run a while.
    let drained = format!("{cluster}-worker");
    let mut drain = Duration::ZERO;
    for runner in ["chaos-runner", chaos.to_str().expect("utf-8 path")] {
        let started = Instant::now();
        let journal = run_experiment(
            lab,
            runner,
            "ha-worker-drained.json",
            &users,
            &[("LAB_NODE", drained.as_str())],
        );
        if runner == "chaos-runner" {
            drain = started.elapsed();
        }
        assert_eq!(
            (
                &journal["status"],
                &journal["deviated"],
                &journal["run"][0]["status"]
            ),
            (
                &Value::from("completed"),
                &Value::from(false),
                &Value::from("succeeded")
            ),
            "{runner}: drain: {journal:#}"
        );
        assert_eq!(
            journal["rollbacks"][0]["status"], "succeeded",
            "{runner}: {journal:#}"
        );
        let unschedulable = lab.kubectl(&[
            "get",
            "node",
            &drained,
            "-o",
            "jsonpath={.spec.unschedulable}",
        ]);
        assert_eq!(
            unschedulable.stdout.trim(),
            "",
            "{runner}: the rollback uncordoned {drained}"
        );
        lab.kubectl(&[
            "rollout",
            "restart",
            "deployment/my-provider-app",
            "deployment/my-consumer-app",
        ])
        .expect_code(0, "kubectl rollout restart");
        rolled_out(lab);
        assert_eq!(wait_for_provider(lab, 3, None, minutes(2)), workers);
    }

    // A worker's container killed: its pods replaced on the other worker.
    let failed = format!("{cluster}-worker2");
    let started = Instant::now();
    let mut run = lab.command(
        "chaos-runner",
        &[
            "run",
            "--journal-path",
            lab.path("ha-worker-stopped.journal.json")
                .to_str()
                .expect("utf-8 path"),
            test_kit::repo::root()
                .join("experiments/ha-worker-stopped.json")
                .to_str()
                .expect("utf-8 path"),
        ],
    );
    run.env("USERS_OK_URL", &users).env("LAB_NODE", &failed);
    let experiment = Running::start(&mut run);
    let mut not_ready_after = None;
    let mut replaced_after = None;
    while started.elapsed() < minutes(4) && replaced_after.is_none() {
        if not_ready_after.is_none() && !node_ready(lab, &failed) {
            not_ready_after = Some(started.elapsed());
        }
        if not_ready_after.is_some() && provider_ready_off(lab, &failed) >= 3 {
            replaced_after = Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let out = experiment.wait(minutes(5));
    let text = std::fs::read_to_string(lab.path("ha-worker-stopped.journal.json"))
        .unwrap_or_else(|_| panic!("no journal\n{}\n{}", out.stdout, out.stderr));
    let journal: Value = serde_json::from_str(&text).expect("journal is JSON");
    assert_eq!(journal["status"], "completed", "{journal:#}");
    assert_eq!(journal["run"][0]["status"], "succeeded", "{journal:#}");
    assert_eq!(
        journal["rollbacks"][0]["status"], "succeeded",
        "{journal:#}"
    );
    let not_ready_after = not_ready_after.expect("the stopped node never became NotReady");
    let replaced_after =
        replaced_after.expect("the provider's pods were not replaced within 4 minutes");
    let users_unaffected = journal["deviated"] == false;
    let restarted = Instant::now();
    while !node_ready(lab, &failed) {
        assert!(
            restarted.elapsed() < minutes(3),
            "{failed} was not Ready 3 minutes after the rollback's `lab node start`"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let rejoined_after = restarted.elapsed();
    let _ = traffic.child.kill();
    let _ = traffic.wait(Duration::from_secs(10));
    Measured {
        drain,
        node_failure: NodeFailure {
            not_ready_after,
            replaced_after,
            users_unaffected,
            rejoined_after,
        },
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run_experiment(
    lab: &ClusterLab,
    runner: &str,
    file: &str,
    users: &str,
    env: &[(&str, &str)],
) -> Value {
    let journal = lab.path(&format!("{file}.{}.journal", runner.len()));
    let experiment = test_kit::repo::root().join("experiments").join(file);
    let mut run = lab.command(
        runner,
        &[
            "run",
            "--journal-path",
            journal.to_str().expect("utf-8 path"),
            experiment.to_str().expect("utf-8 path"),
        ],
    );
    run.env("USERS_OK_URL", users);
    for (key, value) in env {
        run.env(key, value);
    }
    let out = Running::start(&mut run).wait(Duration::from_secs(600));
    let text = std::fs::read_to_string(&journal).unwrap_or_else(|_| {
        panic!(
            "{runner} {file}: no journal\n{}\n{}",
            out.stdout, out.stderr
        )
    });
    serde_json::from_str(&text).expect("journal is JSON")
}

fn node_ready(lab: &ClusterLab, node: &str) -> bool {
    lab.kubectl(&[
        "get",
        "node",
        node,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ])
    .stdout
    .trim()
        == "True"
}

/// Ready provider pods not on `node` (and not terminating).
fn provider_ready_off(lab: &ClusterLab, node: &str) -> usize {
    provider_pods(lab)
        .iter()
        .filter(|(n, ready)| *ready && n != node)
        .count()
}

/// (node, ready) of each provider pod that is not terminating.
fn provider_pods(lab: &ClusterLab) -> Vec<(String, bool)> {
    let out = lab.kubectl(&[
        "get",
        "pods",
        "-l",
        "name=my-provider-app",
        "-o",
        "jsonpath={range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp} {.status.containerStatuses[0].ready}{\"\\n\"}{end}",
    ]);
    out.stdout
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            // Terminating pods have a deletion timestamp in the middle field.
            (fields.len() == 3 && fields[1].is_empty())
                .then(|| (fields[0].to_string(), fields[2] == "true"))
        })
        .collect()
}

/// Waits until `count` provider pods are ready (none on `avoid`); returns their nodes.
fn wait_for_provider(
    lab: &ClusterLab,
    count: usize,
    avoid: Option<&str>,
    limit: Duration,
) -> BTreeSet<String> {
    let started = Instant::now();
    loop {
        let pods = provider_pods(lab);
        let ready: Vec<&(String, bool)> = pods
            .iter()
            .filter(|(n, r)| *r && Some(n.as_str()) != avoid)
            .collect();
        if ready.len() == count && pods.len() == count {
            return ready.iter().map(|(n, _)| n.clone()).collect();
        }
        assert!(
            started.elapsed() < limit,
            "{count} ready provider pods not seen within {limit:?}: {pods:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
