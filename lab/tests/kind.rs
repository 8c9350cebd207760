//! The tutorial on a real kind cluster (kind tier: `#[ignore]`d, so cargo's summary lists
//! it as ignored; `scripts/kind-test.sh` runs it with `--ignored` and `CASCADE_KIND=1`
//! after it has built and sourced the offline kind environment):
//! `lab up --target kind` creates the cluster, builds and loads both images and rolls out
//! real pods; the consumer answers through the node port; the experiment kills the
//! provider and the naive consumer answers 500; `lab fix` and the same experiment passes
//! on fallback answers; `lab dashboard` shows the users' answers and a kill as the
//! provider down and the circuit open; the Python `chaos` with chaostoolkit-kubernetes
//! agrees on both runs; with `lab up --fault-proxy` the latency experiment deviates before
//! the fix and passes after it, through the proxy's own Deployment;
//! `lab down --delete-cluster` leaves no container, network or image of the lab.
//!
//! One test, in order: creating a cluster is the slow part, and every step depends on
//! the one before.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::dashboard::{Live, follow, latest};
use common::{Outcome, Running, get};
use serde_json::Value;

const URL: &str = "http://127.0.0.1:30080/invokeConsumedService";
const CLUSTER: &str = "cascade-lab";

/// The lab on kind: its own state folder, kubeconfig and experiment copy; the repository
/// itself is the Docker build context.
struct KindLab {
    work: tempfile::TempDir,
}

impl KindLab {
    fn new() -> KindLab {
        let work = tempfile::Builder::new()
            .prefix("lab-kind-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(work.path().join("state")).expect("state dir");
        std::fs::copy(
            test_kit::repo::root().join("experiment.json"),
            work.path().join("experiment.json"),
        )
        .expect("copy experiment.json");
        KindLab { work }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let bins = common::bin_dir();
        let path = format!(
            "{}:{}",
            bins.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(test_kit::repo::root())
            .env("PATH", path)
            .env("KUBECONFIG", self.path("kubeconfig"))
            .env("LAB_STATE_DIR", self.path("state"))
            .env_remove("LAB_TARGET")
            .env_remove("LAB_NAMESPACE")
            .env_remove("LAB_REPO_DIR");
        command
    }

    fn run(&self, program: &str, args: &[&str], limit: Duration) -> Outcome {
        Running::start(&mut self.command(program, args)).wait(limit)
    }

    fn lab(&self, args: &[&str], limit: Duration) -> Outcome {
        self.run(env!("CARGO_BIN_EXE_lab"), args, limit)
    }

    fn kubectl(&self, args: &[&str]) -> Outcome {
        self.run("kubectl", args, Duration::from_secs(60))
    }

    fn docker(&self, args: &[&str]) -> String {
        let out = self.run("docker", args, Duration::from_secs(60));
        out.expect_code(0, &format!("docker {}", args.join(" ")));
        out.stdout.trim().to_string()
    }

    /// Runs the experiment copy with `runner` (chaos-runner or the Python `chaos`) and
    /// returns (exit code, journal).
    fn experiment(&self, runner: &str, journal: &str) -> (Option<i32>, Value) {
        let journal = self.path(journal);
        let experiment = self.path("experiment.json");
        let out = self.run(
            runner,
            &[
                "run",
                "--journal-path",
                journal.to_str().expect("utf-8 path"),
                experiment.to_str().expect("utf-8 path"),
            ],
            Duration::from_secs(240),
        );
        let text = std::fs::read_to_string(&journal).unwrap_or_else(|_| {
            panic!("{runner} wrote no journal\n{}\n{}", out.stdout, out.stderr)
        });
        (
            out.code(),
            serde_json::from_str(&text).expect("journal is JSON"),
        )
    }

    /// Runs the experiment with `runner` and checks the reference's verdict: the run
    /// completed, the steady state deviated (or not), and what the consumer probe got
    /// after the provider was killed. Returns the runner's exit code.
    fn experiment_ends(&self, runner: &str, journal: &str, deviated: bool) -> Option<i32> {
        let (code, journal) = self.experiment(runner, journal);
        assert_eq!(
            (&journal["status"], &journal["deviated"]),
            (&Value::from("completed"), &Value::from(deviated)),
            "{runner}: {journal:#}"
        );
        let expected = if deviated { 500 } else { 200 };
        assert_eq!(
            consumer_status_after(&journal),
            Some(expected),
            "{runner}: {journal:#}"
        );
        code
    }

    /// `lab MODE` (fix or break), then `lab up` to bring the killed provider back, until
    /// the consumer answers with the provider's greeting again.
    fn switch_and_restore(&self, mode: &str) {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        self.lab(&[mode], minutes(5))
            .expect_code(0, &format!("lab {mode}"));
        self.lab(&["up"], minutes(10))
            .expect_code(0, "lab up (provider back)");
        wait_for_answer(minutes(1), "the provider's greeting", |s, b, h| {
            s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h)
        });
    }

    fn deployment_exists(&self, name: &str) -> bool {
        common::deployment_exists(|args| self.kubectl(args), name)
    }
}

impl Drop for KindLab {
    /// A failing test still deletes its cluster, so the next run starts clean.
    fn drop(&mut self) {
        let _ = self.lab(&["down", "--delete-cluster"], Duration::from_secs(120));
    }
}

/// The consumer probe's status in the hypothesis checked after the method.
fn consumer_status_after(journal: &Value) -> Option<u64> {
    journal["steady_states"]["after"]["probes"]
        .as_array()?
        .iter()
        .find(|p| p["activity"]["name"] == "consumer-service-must-still-respond")?["output"]
        ["status"]
        .as_u64()
}

/// GETs the consumer until `accept` takes the answer, for at most `limit`.
fn wait_for_answer(
    limit: Duration,
    what: &str,
    accept: impl Fn(u16, &str, &[String]) -> bool,
) -> (u16, String, Vec<String>) {
    let started = Instant::now();
    let mut last = Err("no request yet".to_string());
    while started.elapsed() < limit {
        last = get(URL);
        if let Ok((status, body, headers)) = &last
            && accept(*status, body, headers)
        {
            return last.unwrap();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{what}: not seen within {limit:?}; last answer: {last:?}");
}

/// `lab dashboard` on kind (after mode, provider up): the users' requests answered, then
/// `lab kill` shows as the provider down and the consumer's circuit open; the provider is
/// brought back after.
fn dashboard_shows_the_kill(lab: &KindLab) {
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
    lab.lab(&["kill", "my-provider-app"], Duration::from_secs(120))
        .expect_code(0, "lab kill my-provider-app");
    follow(&url, Duration::from_secs(180), |s| {
        latest(s, "provider") == "down" && latest(s, "circuit") == "open"
    });
    drop(live);
    lab.lab(&["up"], Duration::from_secs(600))
        .expect_code(0, "lab up (the provider back)");
}

fn has_fallback_header(headers: &[String]) -> bool {
    headers.iter().any(|h| h == "x-fallback: true")
}

/// Faults on the wire on real pods: `lab up --fault-proxy` puts the proxy's Deployment
/// between consumer and provider, its API is reached through `kubectl port-forward` (it
/// listens on the pod's loopback only), and experiments/provider-latency.json deviates
/// before the fix (the users wait) and passes after it (the fallback within the call
/// timeout). `--no-fault-proxy` takes the proxy out again.
fn latency_through_the_fault_proxy(lab: &KindLab) {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    lab.lab(&["up", "--fault-proxy", "--mode", "before"], minutes(10))
        .expect_code(0, "lab up --fault-proxy");
    assert!(lab.deployment_exists("fault-proxy"));
    lab.lab(&["address", "--fault-proxy"], Duration::from_secs(60))
        .expect_code(1, "lab address --fault-proxy on kind")
        .expect_stderr("kubectl port-forward");
    wait_for_answer(minutes(1), "the greeting through the proxy", |s, b, h| {
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
    wait_for_answer(
        minutes(1),
        "the consumer calling the provider again",
        |s, b, h| s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h),
    );
}

#[test]
#[ignore = "kind tier: needs a real kind cluster; scripts/kind-test.sh runs it (make kind-test)"]
fn kind_tier_the_cascade_and_its_fix_on_a_real_kind_cluster() {
    test_kit::tier::kind();
    let lab = KindLab::new();
    let experiment = lab.path("experiment.json");
    let experiment_arg = experiment.to_str().expect("utf-8 path");
    let minutes = |m: u64| Duration::from_secs(60 * m);

    // Up: cluster, images built and loaded, overlay applied, rollout awaited.
    lab.lab(
        &["up", "--target", "kind", "--experiment", experiment_arg],
        minutes(20),
    )
    .expect_code(0, "lab up --target kind");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&experiment).expect("experiment"))
            .expect("experiment is JSON");
    assert_eq!(
        written["steady-state-hypothesis"]["probes"][1]["provider"]["url"],
        "http://localhost:30080/invokeConsumedService",
        "lab up writes the node port address into the experiment"
    );
    // Real pods: scheduled on the kind node, run by containerd, ready.
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
        assert_eq!(fields[0], format!("{CLUSTER}-control-plane"), "{line}");
        assert!(fields[1].starts_with("containerd://"), "{line}");
        assert_eq!(fields[2], "true", "{line}");
    }
    // `lab up` waits for the node port, so its first answer is already the greeting.
    let (status, body, _) = get(URL).expect("the consumer answers on the node port");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Greetings from provider"),
        "the provider greeting: {body}"
    );

    // Before the fix: killing the provider makes the consumer answer 500.
    let code = lab.experiment_ends("chaos-runner", "before.json", true);
    assert_ne!(code, Some(0));
    assert!(!lab.deployment_exists("my-provider-app"));
    // Users see 500s (a request that caught the provider's pod going away may hang: the
    // naive consumer has no timeout, so only the answers are checked, for a while).
    wait_for_answer(minutes(1), "the cascading failure (500)", |s, _, _| {
        s == 500
    });

    // The fix, the provider back, and the same experiment passes on fallbacks.
    lab.switch_and_restore("fix");
    let code = lab.experiment_ends("chaos-runner", "after.json", false);
    assert_eq!(code, Some(0));
    let (_, body, _) = wait_for_answer(minutes(1), "a fallback answer", |s, _, h| {
        s == 200 && has_fallback_header(h)
    });
    assert!(body.starts_with("Degraded answer"), "{body}");

    // The Python Chaos Toolkit with chaostoolkit-kubernetes reaches the same outcomes.
    // (scripts/kind-test.sh sets the Python reference up before it runs this test.)
    let chaos = test_kit::tier::chaos_bin();
    lab.switch_and_restore("break");
    lab.experiment_ends(&chaos.to_string_lossy(), "python-before.json", true);
    lab.switch_and_restore("fix");
    dashboard_shows_the_kill(&lab);
    lab.experiment_ends(&chaos.to_string_lossy(), "python-after.json", false);

    latency_through_the_fault_proxy(&lab);

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
    assert_eq!(
        lab.docker(&["network", "ls", "-q", "--filter", "name=^kind$"]),
        "",
        "kind's network left"
    );
    assert_eq!(
        lab.docker(&["images", "-q", "cascade-lab/*"]),
        "",
        "the lab's images left"
    );
    assert!(get(URL).is_err(), "nothing answers on the node port");
}
