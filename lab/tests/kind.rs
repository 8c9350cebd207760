//! The tutorial on a real kind cluster (kind tier: `#[ignore]`d, so cargo's summary lists
//! it as ignored; `scripts/kind-test.sh` runs it with `--ignored` and `CASCADE_KIND=1`
//! after it has built and sourced the offline kind environment):
//! `lab up --target kind --workers 2` creates a cluster of a control plane and two
//! workers, builds and loads both images and rolls out real pods on the workers; the
//! consumer answers through the node port (on the control plane's container, whichever
//! node the pods are on); the provider's NetworkPolicy refuses a pod without the
//! consumer's label on every node, lets the consumer through, and leaves the kubelet's
//! probes and `kubectl port-forward` working; the experiment kills the
//! provider and the naive consumer answers 500; `lab fix` and the same experiment passes
//! on fallback answers; `lab dashboard` shows the users' answers and a kill as the
//! provider down and the circuit open; the Python `chaos` with chaostoolkit-kubernetes
//! agrees on both runs; with `lab up --fault-proxy` the latency experiment deviates before
//! the fix and passes after it, through the proxy's own Deployment;
//! the `ha-after` overlay spreads three provider pods over the workers, and one of them
//! terminated, a worker drained (the rollback uncordons it) and a worker's container
//! killed (`lab node stop`) are each survived, with the recovery times measured;
//! `lab down --delete-cluster` leaves no container, network or image of the lab.
//!
//! One test, in order: creating a cluster is the slow part, and every step depends on
//! the one before.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{ClusterLab, has_fallback_header};
use common::dashboard::{Live, follow, latest};
use common::ha;
use common::network_policy;
use common::{Running, get};
use serde_json::Value;

const URL: &str = "http://127.0.0.1:30080/invokeConsumedService";
const CLUSTER: &str = "cascade-lab";

/// `lab dashboard` on kind (after mode, provider up): the users' requests answered, then
/// `lab kill` shows as the provider down and the consumer's circuit open; the provider is
/// brought back after.
fn dashboard_shows_the_kill(lab: &ClusterLab) {
    let node = lab.kubectl(&[
        "get",
        "pods",
        "-l",
        "name=my-provider-app",
        "-o",
        "jsonpath={.items[0].spec.nodeName}",
    ]);
    let node = node.stdout.trim().to_string();
    let mut live = Live::start(lab.command(
        env!("CARGO_BIN_EXE_lab"),
        &[
            "dashboard",
            "--addr",
            "127.0.0.1:0",
            "--rate",
            "5",
            "--duration",
            "600",
        ],
    ));
    let url = live.url();
    follow(&url, Duration::from_secs(120), |s| {
        latest(s, "provider") == "up" && latest(s, "ok").as_f64().unwrap_or(0.0) > 0.0
    });
    // The picture's provider box names its pod and the node it runs on.
    let (_, page, _) = get(&url).expect("the dashboard's page");
    assert!(
        page.contains(&format!(" @ {node}</title>")),
        "the provider's pod and node on the page:\n{page}"
    );
    lab.lab(&["kill", "my-provider-app"], Duration::from_secs(120))
        .expect_code(0, "lab kill my-provider-app");
    follow(&url, Duration::from_secs(180), |s| {
        latest(s, "provider") == "down" && latest(s, "circuit") == "open"
    });
    drop(live);
    lab.lab(&["up"], Duration::from_secs(600))
        .expect_code(0, "lab up (the provider back)");
}

/// Faults on the wire on real pods: `lab up --fault-proxy` puts the proxy's Deployment
/// between consumer and provider, its API is reached through `kubectl port-forward` (it
/// listens on the pod's loopback only), and experiments/provider-latency.json deviates
/// before the fix (the users wait) and passes after it (the fallback within the call
/// timeout). `--no-fault-proxy` takes the proxy out again.
fn latency_through_the_fault_proxy(lab: &ClusterLab) {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    lab.lab(&["up", "--fault-proxy", "--mode", "before"], minutes(10))
        .expect_code(0, "lab up --fault-proxy");
    assert!(lab.deployment_exists("fault-proxy"));
    lab.lab(&["address", "--fault-proxy"], Duration::from_secs(60))
        .expect_code(1, "lab address --fault-proxy on kind")
        .expect_stderr("kubectl port-forward");
    lab.wait_for_answer(minutes(1), "the greeting through the proxy", |s, b, h| {
        s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h)
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let api = format!("http://127.0.0.1:{port}");
    let mut forward = Running::start(&mut lab.command(
        "kubectl",
        &[
            "port-forward",
            "deployment/fault-proxy",
            &format!("{port}:8474"),
        ],
    ));
    let deadline = Instant::now() + minutes(1);
    while !get(&format!("{api}/version")).is_ok_and(|(s, _, _)| s == 200) {
        assert!(
            Instant::now() < deadline,
            "the fault proxy's API never answered through kubectl port-forward"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let experiment = test_kit::repo::root().join("experiments/provider-latency.json");
    for (mode, expected) in [("break", 1), ("fix", 0)] {
        // Until the new consumer pod answers through the node port (a request may still
        // reach the old one while it drains).
        lab.switch_and_restore(mode);
        let journal = lab.path(&format!("latency-{mode}.json"));
        let mut run = lab.command(
            "chaos-runner",
            &[
                "run",
                "--journal-path",
                journal.to_str().expect("utf-8 path"),
                experiment.to_str().expect("utf-8 path"),
            ],
        );
        run.env("CONSUMER_URL", URL).env("TOXIPROXY_URL", &api);
        let out = Running::start(&mut run).wait(minutes(2));
        let text = std::fs::read_to_string(&journal).unwrap_or_else(|_| {
            panic!(
                "no journal
{}
{}",
                out.stdout, out.stderr
            )
        });
        let journal: Value = serde_json::from_str(&text).expect("journal is JSON");
        assert_eq!(
            (out.code(), &journal["deviated"]),
            (Some(expected), &Value::from(expected == 1)),
            "{mode}: {}
{journal:#}",
            out.stderr
        );
        assert_eq!(journal["rollbacks"][0]["status"], "succeeded", "{mode}");
    }
    let _ = forward.child.kill();
    let _ = forward.wait(Duration::from_secs(10));
    lab.lab(&["up", "--no-fault-proxy"], minutes(10))
        .expect_code(0, "lab up --no-fault-proxy");
    assert!(!lab.deployment_exists("fault-proxy"));
    lab.wait_for_answer(
        minutes(1),
        "the consumer calling the provider again",
        |s, b, h| s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h),
    );
}

#[test]
#[ignore = "kind tier: needs a real kind cluster; scripts/kind-test.sh runs it (make kind-test)"]
fn kind_tier_the_cascade_and_its_fix_on_a_real_kind_cluster() {
    test_kit::tier::kind();
    let lab = ClusterLab::new("lab-kind-", Some(URL));
    let minutes = |m: u64| Duration::from_secs(60 * m);

    // Up: cluster, images built and loaded, overlay applied, rollout awaited; `lab up`
    // waits for the node port, so its first answer is already the greeting.
    lab.up_with("kind", &["--workers", "2"], minutes(20));
    // The same cluster asked for with another shape is refused, not silently reused.
    lab.lab(&["up", "--workers", "1"], minutes(2))
        .expect_code(1, "lab up --workers 1 on a cluster with two")
        .expect_stderr("has 2 worker node(s), --workers asks for 1");
    assert_eq!(
        lab.written_url(),
        "http://localhost:30080/invokeConsumedService",
        "lab up writes the node port address into the experiment"
    );
    // Real pods: scheduled on the workers (the control plane keeps its taint when a
    // cluster has workers), run by containerd, ready.
    let pods = lab.kubectl(&[
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.spec.nodeName} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].ready}{\"\\n\"}{end}",
    ]);
    pods.expect_code(0, "kubectl get pods");
    let lines: Vec<&str> = pods.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one provider and one consumer pod:\n{}",
        pods.stdout
    );
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        assert!(
            fields[0].starts_with(&format!("{CLUSTER}-worker")),
            "{line}"
        );
        assert!(fields[1].starts_with("containerd://"), "{line}");
        assert_eq!(fields[2], "true", "{line}");
    }

    let nodes = network_policy::provider_is_reachable_only_by_the_consumer(&lab);
    assert_eq!(
        nodes,
        [
            format!("{CLUSTER}-control-plane"),
            format!("{CLUSTER}-worker"),
            format!("{CLUSTER}-worker2")
        ]
    );

    // Before the fix the users get 500s; after it, fallbacks.
    lab.cascade_then_fix();

    // The Python Chaos Toolkit with chaostoolkit-kubernetes reaches the same outcomes.
    // (scripts/kind-test.sh sets the Python reference up before it runs this test.)
    let chaos = test_kit::tier::chaos_bin();
    lab.switch_and_restore("break");
    lab.experiment_ends(&chaos.to_string_lossy(), "python-before.json", true);
    lab.switch_and_restore("fix");
    dashboard_shows_the_kill(&lab);
    lab.experiment_ends(&chaos.to_string_lossy(), "python-after.json", false);

    latency_through_the_fault_proxy(&lab);

    // The fixed consumer and a provider of three replicas under fire (manifests/overlays/
    // ha-after); the times are printed for README's table.
    let measured = ha::replicas_and_nodes_under_fire(&lab, CLUSTER);
    eprintln!(
        "kind tier measured: drain experiment {:?}; node stopped: NotReady after {:?}, provider replaced after {:?}, users within 5 % errors: {}; Ready again {:?} after the run (its rollback ran `lab node start`)",
        measured.drain,
        measured.node_failure.not_ready_after,
        measured.node_failure.replaced_after,
        measured.node_failure.users_unaffected,
        measured.node_failure.rejoined_after
    );

    // Down: nothing of the lab is left in Docker.
    lab.lab(&["down", "--delete-cluster"], minutes(2))
        .expect_code(0, "lab down --delete-cluster");
    let kind = std::env::var("KIND_BIN").unwrap_or_else(|_| "kind".into());
    let clusters = lab.run(&kind, &["get", "clusters"], Duration::from_secs(30));
    assert!(
        !clusters.stdout.lines().any(|l| l.trim() == CLUSTER),
        "{}",
        clusters.stdout
    );
    let label = format!("label=io.x-k8s.kind.cluster={CLUSTER}");
    assert_eq!(
        lab.docker(&["ps", "-aq", "--filter", &label]),
        "",
        "node containers left"
    );
    // kind's network goes with the last cluster on it; another cluster on this machine
    // keeps it (lab down removes it only when no container uses it).
    let others = lab.docker(&["ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster"]);
    if others.is_empty() {
        assert_eq!(
            lab.docker(&["network", "ls", "-q", "--filter", "name=^kind$"]),
            "",
            "kind's network left"
        );
    }
    lab.assert_lab_images_gone();
    assert!(get(URL).is_err(), "nothing answers on the node port");
}
