//! `lab` on the `cluster` target against the local control plane (Kubernetes tier,
//! `CASCADE_KUBECONFIG`): up/down twice, fix/break, address vs the tutorial's script,
//! `--write`, `kill`; and the one-line message for a missing tool (no cluster needed).
//!
//! Each test has its own namespace and state directory. The consumer Service's node
//! port (30080) is cluster-wide, so tests that apply the manifests hold an exclusive file
//! lock next to the kubeconfig (chaos-runner's k8s_experiment test takes the same one).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Outcome, Running};

/// A lab on the control plane in a namespace of its own. Holds the node-port lock; on
/// drop, removes what it created (while still holding the lock, so the next test finds
/// the node port free).
struct ClusterLab {
    kubeconfig: PathBuf,
    namespace: String,
    state: tempfile::TempDir,
    /// A copy of the repository's manifests, kind config and experiment, so a test never
    /// rewrites the real experiment.json.
    repo: tempfile::TempDir,
    path: String,
    /// `with_fake_cluster_tools`: what answers on kind's node port 30080.
    node_port: Option<std::process::Child>,
    _lock: File,
}

impl ClusterLab {
    fn new(kubeconfig: PathBuf, name: &str) -> ClusterLab {
        let lock = test_kit::kube::node_port_lock(&kubeconfig);
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        let repo = tempfile::Builder::new()
            .prefix("lab-k8s-repo-")
            .tempdir()
            .expect("temp dir");
        for dir in [
            "manifests/base",
            "manifests/overlays/before",
            "manifests/overlays/after",
            "manifests/overlays/fault-proxy-before",
            "manifests/overlays/fault-proxy-after",
            "manifests/components/fault-proxy",
            "kind",
        ] {
            std::fs::create_dir_all(repo.path().join(dir)).expect("mkdir");
            for entry in std::fs::read_dir(test_kit::repo::root().join(dir)).expect("read dir") {
                let entry = entry.expect("entry");
                if entry.path().is_file() {
                    std::fs::copy(entry.path(), repo.path().join(dir).join(entry.file_name()))
                        .expect("copy");
                }
            }
        }
        std::fs::copy(
            test_kit::repo::root().join("experiment.json"),
            repo.path().join("experiment.json"),
        )
        .expect("copy experiment.json");
        ClusterLab {
            kubeconfig,
            namespace: format!("lab-{name}-{stamp}"),
            state: tempfile::Builder::new()
                .prefix("lab-k8s-state-")
                .tempdir()
                .expect("temp dir"),
            repo,
            path: test_kit::kube::path_with_kubectl(),
            node_port: None,
            _lock: lock,
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.repo.path())
            .env("PATH", &self.path)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("LAB_STATE_DIR", self.state.path())
            .env("LAB_REPO_DIR", self.repo.path())
            .env_remove("LAB_TARGET")
            .env_remove("LAB_NAMESPACE")
            // What scripts/kind-env.sh sets for the kind tier would change the calls.
            .env_remove("LAB_KIND_IMAGE")
            .env_remove("LAB_MINIKUBE_IMAGE")
            .env_remove("LAB_BUILD_ARGS")
            .env_remove("LAB_BUILD_NETWORK");
        command
    }

    /// `lab ARGS -n <namespace>`, at most 120 s (rollouts wait at most 60 s, so a stuck
    /// one fails with lab's own report of what is pending).
    fn lab(&self, args: &[&str]) -> Outcome {
        let mut all = args.to_vec();
        all.extend(["-n", &self.namespace]);
        if matches!(args.first(), Some(&"up" | &"fix" | &"break")) {
            all.extend(["--timeout", "60"]);
        }
        Running::start(&mut self.command(env!("CARGO_BIN_EXE_lab"), &all))
            .wait(Duration::from_secs(120))
    }

    fn kubectl(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend_from_slice(args);
        Running::start(&mut self.command("kubectl", &all)).wait(Duration::from_secs(60))
    }

    /// The deployment's CONSUMER_RESILIENCE value, or `None` when it does not exist.
    fn resilience(&self) -> Option<String> {
        let out = self.kubectl(&[
            "get",
            "deployment",
            "my-consumer-app",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"CONSUMER_RESILIENCE\")].value}",
        ]);
        out.status.success().then(|| out.stdout.trim().to_string())
    }

    fn deployment_exists(&self, name: &str) -> bool {
        common::deployment_exists(|args| self.kubectl(args), name)
    }

    /// Puts stand-ins for kind, docker and minikube first on PATH (each appends its
    /// arguments to `calls.log` in `dir`; the fake kind keeps its clusters in `clusters`),
    /// and gives the control plane the contexts kind and minikube would create, so the
    /// kind/minikube flows run end to end against the control plane.
    fn with_fake_cluster_tools(mut self, dir: &Path) -> ClusterLab {
        use std::os::unix::fs::PermissionsExt;
        let log = dir.join("calls.log");
        let clusters = dir.join("clusters");
        std::fs::write(&clusters, "").expect("clusters file");
        let scripts = [
            ("docker", String::new()),
            (
                "kind",
                format!(
                    r#"case "$1 $2" in
  "get clusters") cat '{c}' ;;
  "create cluster") echo cascade-lab >>'{c}' ;;
  "delete cluster") : >'{c}' ;;
esac
"#,
                    c = clusters.display()
                ),
            ),
            ("minikube", String::new()),
        ];
        for (name, body) in scripts {
            let path = dir.join(name);
            let text = format!(
                "#!/bin/sh\necho \"{name} $*\" >>'{}'\n{body}exit 0\n",
                log.display()
            );
            std::fs::write(&path, text).expect("write fake tool");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let kubeconfig = dir.join("kubeconfig");
        std::fs::copy(&self.kubeconfig, &kubeconfig).expect("copy kubeconfig");
        self.kubeconfig = kubeconfig;
        for context in ["kind-cascade-lab", "minikube"] {
            let out = Running::start(&mut self.command(
                "kubectl",
                &[
                    "config",
                    "set-context",
                    context,
                    "--cluster=cascade-lab",
                    "--user=admin",
                ],
            ))
            .wait(Duration::from_secs(30));
            out.expect_code(0, "kubectl config set-context");
        }
        // What lab waits for on kind before it prints the address: the cluster's DNS (a
        // coredns Deployment, made available by kwok) and the node port on 127.0.0.1
        // (kind's port mapping; here a provider-app stands in for it).
        let create = Running::start(&mut self.command(
            "kubectl",
            &[
                "-n",
                "kube-system",
                "create",
                "deployment",
                "coredns",
                "--image=registry.invalid/coredns:1",
            ],
        ))
        .wait(Duration::from_secs(30));
        assert!(
            create.status.success() || create.stderr.contains("AlreadyExists"),
            "create the coredns deployment: {}",
            create.stderr
        );
        let mut node_port = Command::new(common::bin_dir().join("provider-app"));
        node_port
            .args(["--bind", "127.0.0.1:30080"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        self.node_port = Some(node_port.spawn().expect("start the node port stand-in"));
        self.path = format!("{}:{}", dir.display(), self.path);
        self
    }

    fn experiment(&self) -> PathBuf {
        self.repo.path().join("experiment.json")
    }
}

impl Drop for ClusterLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.node_port.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Independent of lab's state (the test may have failed anywhere): delete what the
        // overlay creates and wait, so the node port is free for the next test.
        let overlay = test_kit::repo::root().join("manifests/overlays/before");
        let _ = self.kubectl(&[
            "delete",
            "-k",
            overlay.to_str().unwrap_or_default(),
            "--ignore-not-found",
            "--wait=true",
            "--timeout=60s",
        ]);
        let _ = Running::start(&mut self.command(
            "kubectl",
            &[
                "delete",
                "namespace",
                &self.namespace,
                "--ignore-not-found",
                "--wait=false",
            ],
        ))
        .wait(Duration::from_secs(60));
    }
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_up_and_down_twice_each() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "updown");
    for round in 1..=2 {
        let up = lab.lab(&["up", "--target", "cluster"]);
        up.expect_code(0, &format!("lab up #{round}"));
        assert!(
            up.stdout.trim().ends_with(":30080/invokeConsumedService"),
            "{}",
            up.stdout
        );
        assert!(lab.deployment_exists("my-provider-app"));
        assert!(lab.deployment_exists("my-consumer-app"));
        assert_eq!(lab.resilience().as_deref(), Some("off"));
    }
    // The target and namespace are recorded: later commands need no flags.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.state.path().join("state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["target"], "cluster");
    assert_eq!(state["kubernetes"]["namespace"], lab.namespace.as_str());
    let status =
        Running::start(&mut lab.command(env!("CARGO_BIN_EXE_lab"), &["status", "--check"]))
            .wait(Duration::from_secs(60));
    status.expect_code(0, "lab status --check");
    assert_eq!(
        status.stdout.matches("ready").count(),
        2,
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("before"), "{}", status.stdout);

    for round in 1..=2 {
        lab.lab(&["down", "--target", "cluster"])
            .expect_code(0, &format!("lab down #{round}"));
        assert!(!lab.deployment_exists("my-provider-app"));
        assert!(!lab.deployment_exists("my-consumer-app"));
        let services = lab.kubectl(&["get", "services", "-o", "name"]);
        assert_eq!(services.stdout.trim(), "", "services left behind");
        assert!(!lab.state.path().join("state.json").exists());
    }
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_fix_and_break_switch_the_consumer_deployment() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "fixbreak");
    lab.lab(&["up", "--target", "cluster"])
        .expect_code(0, "lab up");
    assert_eq!(lab.resilience().as_deref(), Some("off"));
    lab.lab(&["fix"]).expect_code(0, "lab fix");
    assert_eq!(lab.resilience().as_deref(), Some("on"));
    let status = lab.lab(&["status"]);
    assert!(status.stdout.contains("after"), "{}", status.stdout);
    lab.lab(&["break"]).expect_code(0, "lab break");
    assert_eq!(lab.resilience().as_deref(), Some("off"));
    // `lab up` keeps the recorded mode; `--mode after` changes it.
    lab.lab(&["up", "--mode", "after"])
        .expect_code(0, "lab up --mode after");
    assert_eq!(lab.resilience().as_deref(), Some("on"));
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_address_agrees_with_the_script_and_write_changes_only_the_url() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "address");
    let original = std::fs::read_to_string(lab.experiment()).unwrap();
    let up = lab.lab(&["up", "--target", "cluster"]);
    up.expect_code(0, "lab up");
    let url = up.stdout.trim().to_string();

    let address = lab.lab(&["address"]);
    address.expect_code(0, "lab address");
    let script = test_kit::repo::root().join("scripts/get-consumer-service-address.sh");
    let kubeconfig_arg = lab.kubeconfig.display().to_string();
    let by_script = Running::start(&mut lab.command(
        script.to_str().unwrap(),
        &["-n", &lab.namespace, "--kubeconfig", &kubeconfig_arg],
    ))
    .wait(Duration::from_secs(60));
    by_script.expect_code(0, "get-consumer-service-address.sh");
    assert_eq!(address.stdout.trim(), by_script.stdout.trim());
    assert_eq!(address.stdout.trim(), url);
    // The control plane's only node is 127.0.0.1; the node port is the manifests' one.
    assert_eq!(url, "http://127.0.0.1:30080/invokeConsumedService");

    // `lab up` wrote the URL into the repository's experiment.json: only that literal.
    let old = "\"http://192.168.39.7:31546/invokeConsumedService\"";
    let new = format!("\"{url}\"");
    let start = original.find(old).expect("seed URL");
    let written = std::fs::read_to_string(lab.experiment()).unwrap();
    assert_eq!(written.as_bytes()[..start], original.as_bytes()[..start]);
    assert_eq!(&written[start..start + new.len()], new);
    assert_eq!(
        written.as_bytes()[start + new.len()..],
        original.as_bytes()[start + old.len()..]
    );

    // `lab address --write` on another file: same, byte for byte.
    let other = lab.state.path().join("copy.json");
    std::fs::write(&other, &original).unwrap();
    let other_arg = other.display().to_string();
    lab.lab(&["address", "--write", &other_arg])
        .expect_code(0, "lab address --write");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), written);

    // A file without the probe: clear error, file untouched.
    let bare = lab.state.path().join("bare.json");
    std::fs::write(&bare, "{\"method\": []}\n").unwrap();
    let bare_arg = bare.display().to_string();
    let err = lab.lab(&["address", "--write", &bare_arg]);
    err.expect_code(1, "lab address --write without the probe");
    err.expect_stderr("has no probe named `consumer-service-must-still-respond`");
    assert_eq!(
        std::fs::read_to_string(&bare).unwrap(),
        "{\"method\": []}\n"
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_kill_deletes_the_deployment_and_up_brings_it_back() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "kill");
    lab.lab(&["up", "--target", "cluster"])
        .expect_code(0, "lab up");
    lab.lab(&["kill", "my-provider-app", "--target", "cluster"])
        .expect_code(0, "lab kill");
    assert!(!lab.deployment_exists("my-provider-app"));
    let pods = lab.kubectl(&["get", "pods", "-l", "name=my-provider-app", "-o", "name"]);
    assert_eq!(
        pods.stdout.trim(),
        "",
        "provider pods left: {}",
        pods.stdout
    );
    assert!(lab.deployment_exists("my-consumer-app"));
    // Killed services are not listed, and do not make the lab unhealthy.
    let status = lab.lab(&["status", "--check"]);
    status.expect_code(0, "lab status --check after kill");
    assert!(
        !status.stdout.contains("my-provider-app"),
        "{}",
        status.stdout
    );
    lab.lab(&["up"]).expect_code(0, "lab up after kill");
    assert!(lab.deployment_exists("my-provider-app"));
}

/// A directory whose only program is a stand-in `kubectl` (never run: `lab up --target
/// kind` looks for kind before calling kubectl), so `kind` and `docker` are missing.
fn path_with_only_kubectl(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let kubectl = dir.join("kubectl");
    std::fs::write(&kubectl, "#!/bin/sh\nexit 3\n").expect("write kubectl");
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir.display().to_string()
}

#[test]
fn a_missing_tool_is_one_line_saying_what_to_install() {
    let state = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let run = |path: &str, args: &[&str]| {
        Running::start(
            Command::new(env!("CARGO_BIN_EXE_lab"))
                .args(args)
                .current_dir(test_kit::repo::root())
                .env("PATH", path)
                .env("LAB_STATE_DIR", state.path())
                .env_remove("LAB_TARGET"),
        )
        .wait(Duration::from_secs(60))
    };
    let out = run(
        &empty.path().display().to_string(),
        &["up", "--target", "cluster"],
    );
    out.expect_code(1, "lab up without kubectl");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "`kubectl` is not installed (not found on PATH); install it: https://kubernetes.io/docs/tasks/tools/"
        ),
        "{}",
        out.stderr
    );

    let only_kubectl = tempfile::tempdir().unwrap();
    let path = path_with_only_kubectl(only_kubectl.path());
    let out = run(&path, &["up", "--target", "kind"]);
    out.expect_code(1, "lab up --target kind without kind");
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "`kind` is not installed (not found on PATH); install it: https://kind.sigs.k8s.io/"
        ),
        "{}",
        out.stderr
    );
    let out = run(&path, &["logs", "my-consumer-app", "--target", "minikube"]);
    out.expect_code(1, "lab logs without a lab");
    out.expect_stderr("no lab is up on target `minikube`");
    assert!(!state.path().join("state.json").exists());
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_the_image_registry_replaces_both_images_on_the_cluster_target() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "registry");
    lab.lab(&[
        "up",
        "--target",
        "cluster",
        "--image-registry",
        "localhost:5000/lab/",
    ])
    .expect_code(0, "lab up --image-registry");
    let images = |name: &str| {
        let out = lab.kubectl(&[
            "get",
            "deployment",
            name,
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ]);
        out.expect_code(0, "kubectl get deployment");
        out.stdout.trim().to_string()
    };
    assert_eq!(
        images("my-provider-app"),
        "localhost:5000/lab/provider-app:dev"
    );
    assert_eq!(
        images("my-consumer-app"),
        "localhost:5000/lab/consumer-app:dev"
    );
    // The registry is recorded: `lab fix` keeps pulling from it.
    lab.lab(&["fix"]).expect_code(0, "lab fix");
    assert_eq!(
        images("my-consumer-app"),
        "localhost:5000/lab/consumer-app:dev"
    );
    assert_eq!(lab.resilience().as_deref(), Some("on"));
    let logs = lab.lab(&["logs", "my-consumer-app"]);
    logs.expect_code(0, "lab logs");
    assert!(
        logs.stdout.contains("simulated container (kwok)"),
        "{}",
        logs.stdout
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_kind_and_minikube_flows_call_their_tools_and_agree_with_the_script() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let tools = tempfile::tempdir().unwrap();
    let lab = ClusterLab::new(kubeconfig, "kind").with_fake_cluster_tools(tools.path());
    let calls = || std::fs::read_to_string(tools.path().join("calls.log")).unwrap_or_default();
    let script = test_kit::repo::root().join("scripts/get-consumer-service-address.sh");

    // kind: the cluster is created (it does not exist yet), both images built and loaded.
    let up = lab.lab(&["up", "--target", "kind"]);
    up.expect_code(0, "lab up --target kind");
    up.expect_stderr("waiting for the cluster's DNS (deployment kube-system/coredns)");
    let config = lab.repo.path().join("kind/cluster.yaml");
    let root = lab.repo.path().display().to_string();
    let expected = [
        "kind get clusters".to_string(),
        format!("kind create cluster --config {}", config.display()),
        format!(
            "docker build --force-rm --target provider-app -t cascade-lab/provider-app:dev {root}"
        ),
        format!(
            "docker build --force-rm --target consumer-app -t cascade-lab/consumer-app:dev {root}"
        ),
        "kind load docker-image cascade-lab/provider-app:dev --name cascade-lab".to_string(),
        "kind load docker-image cascade-lab/consumer-app:dev --name cascade-lab".to_string(),
    ];
    assert_eq!(calls().lines().collect::<Vec<_>>(), expected);
    // The host port kind/cluster.yaml maps, on localhost; the same as the script's answer.
    assert_eq!(
        up.stdout.trim(),
        "http://localhost:30080/invokeConsumedService"
    );
    let kubeconfig_arg = lab.kubeconfig.display().to_string();
    let by_script = |context: &str| {
        let out = Running::start(&mut lab.command(
            script.to_str().unwrap(),
            &[
                "-n",
                &lab.namespace,
                "--kubeconfig",
                &kubeconfig_arg,
                "--context",
                context,
            ],
        ))
        .wait(Duration::from_secs(60));
        out.expect_code(0, "get-consumer-service-address.sh");
        out.stdout.trim().to_string()
    };
    assert_eq!(by_script("kind-cascade-lab"), up.stdout.trim());
    let state = std::fs::read_to_string(lab.state.path().join("state.json")).unwrap();
    assert!(
        state.contains("\"context\": \"kind-cascade-lab\""),
        "{state}"
    );

    // A second `up` finds the cluster and does not create it again.
    std::fs::write(tools.path().join("calls.log"), "").unwrap();
    lab.lab(&["up"]).expect_code(0, "second lab up");
    assert!(!calls().contains("create cluster"), "{}", calls());

    // `down` keeps the cluster unless asked.
    lab.lab(&["down", "--target", "kind"])
        .expect_code(0, "lab down");
    assert!(!calls().contains("delete cluster"), "{}", calls());
    assert!(!lab.deployment_exists("my-consumer-app"));
    lab.lab(&["up", "--target", "kind"])
        .expect_code(0, "lab up again");
    lab.lab(&["down", "--target", "kind", "--delete-cluster"])
        .expect_code(0, "lab down --delete-cluster");
    // Then the lab's images (their build cache kept) and kind's network if unused (the
    // fake docker reports no containers count, so the network stays).
    assert!(
        calls().ends_with(
            "kind delete cluster --name cascade-lab\n\
             docker image inspect cascade-lab/provider-app:dev\n\
             docker image inspect cascade-lab/fault-proxy:dev\n\
             docker image inspect cascade-lab/consumer-app:dev\n\
             docker image inspect cascade-lab/chaos-runner:dev\n\
             docker rmi --no-prune cascade-lab/provider-app:dev cascade-lab/fault-proxy:dev cascade-lab/consumer-app:dev cascade-lab/chaos-runner:dev\n\
             docker network inspect kind --format {{len .Containers}}\n"
        ),
        "{}",
        calls()
    );

    // minikube: not running (the stand-in's `status` answers nothing), so started with
    // minikube's own node image; images built and loaded into it; the address is the
    // node's IP (the control plane has no node named minikube, so a worker's, like the
    // script).
    std::fs::write(tools.path().join("calls.log"), "").unwrap();
    let up = lab.lab(&["up", "--target", "minikube"]);
    up.expect_code(0, "lab up --target minikube");
    let calls_now = calls();
    let root = nix::unistd::Uid::effective().is_root();
    let start = if root {
        "minikube start --driver=docker --force\n"
    } else {
        "minikube start --driver=docker\n"
    };
    assert!(
        calls_now.starts_with(&format!("minikube status --format {{{{.Host}}}}\n{start}")),
        "{calls_now}"
    );
    assert!(
        calls_now.contains("minikube image load cascade-lab/provider-app:dev\n"),
        "{calls_now}"
    );
    assert!(
        calls_now.contains("minikube image load cascade-lab/consumer-app:dev\n"),
        "{calls_now}"
    );
    assert_eq!(
        up.stdout.trim(),
        "http://127.0.0.1:30080/invokeConsumedService"
    );
    assert_eq!(by_script("minikube"), up.stdout.trim());
    std::fs::write(tools.path().join("calls.log"), "").unwrap();
    lab.lab(&["down", "--delete-cluster"])
        .expect_code(0, "lab down --delete-cluster (minikube)");
    assert!(calls().starts_with("minikube delete\n"), "{}", calls());
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_a_rollout_that_cannot_finish_times_out_naming_the_deployments() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "stuck");
    // A quota of zero pods: the Deployments exist but never get a pod.
    let create =
        Running::start(&mut lab.command("kubectl", &["create", "namespace", &lab.namespace]))
            .wait(Duration::from_secs(60));
    create.expect_code(0, "kubectl create namespace");
    lab.kubectl(&["create", "quota", "no-pods", "--hard=pods=0"])
        .expect_code(0, "kubectl create quota");
    let up = Running::start(&mut lab.command(
        env!("CARGO_BIN_EXE_lab"),
        &[
            "up",
            "--target",
            "cluster",
            "-n",
            &lab.namespace,
            "--timeout",
            "3",
        ],
    ))
    .wait(Duration::from_secs(120));
    up.expect_code(1, "lab up with a stuck rollout");
    for needle in [
        "the rollout did not finish within 3s (raise it with --timeout)",
        &format!(
            "deployment my-provider-app in namespace '{}'",
            lab.namespace
        ),
        &format!(
            "deployment my-consumer-app in namespace '{}'",
            lab.namespace
        ),
        "no pods",
    ] {
        assert!(
            up.stderr.contains(needle),
            "{needle:?} missing in\n{}",
            up.stderr
        );
    }
    // Recorded before the wait: `lab down` removes what was applied.
    lab.lab(&["down"])
        .expect_code(0, "lab down after a failed up");
    assert!(!lab.deployment_exists("my-provider-app"));
}

/// Who may change faults on Kubernetes: `lab up` keeps the provider's token in a Secret
/// the Deployment reads (optional, so a plain `kubectl apply -k` still starts), `lab
/// fault-token` reads it back and repairs keep it; a NetworkPolicy admits only the
/// consumer's pods. `lab down` removes both.
#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_up_keeps_the_fault_token_secret_and_the_provider_network_policy() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "faulttoken");
    lab.lab(&["up", "--target", "cluster"])
        .expect_code(0, "lab up");
    let printed = lab.lab(&["fault-token"]);
    printed.expect_code(0, "lab fault-token");
    let token = printed.stdout.trim().to_string();
    assert_eq!(token.len(), 32, "{token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token:?}");
    let stored = lab.kubectl(&[
        "get",
        "secret",
        "provider-fault-token",
        "-o",
        "go-template={{.data.token | base64decode}}",
    ]);
    assert!(stored.status.success(), "{}", stored.stderr);
    assert_eq!(
        stored.stdout, token,
        "lab fault-token prints the Secret's value"
    );
    let label = lab.kubectl(&[
        "get",
        "secret",
        "provider-fault-token",
        "-o",
        "jsonpath={.metadata.labels.app\\.kubernetes\\.io/part-of}",
    ]);
    assert_eq!(label.stdout.trim(), "cascade-lab");

    let reference = lab.kubectl(&[
        "get",
        "deployment",
        "my-provider-app",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"FAULT_API_TOKEN\")].valueFrom.secretKeyRef}",
    ]);
    let reference: serde_json::Value =
        serde_json::from_str(reference.stdout.trim()).unwrap_or_default();
    assert_eq!(
        reference,
        serde_json::json!({"name": "provider-fault-token", "key": "token", "optional": true})
    );

    let policy = lab.kubectl(&[
        "get",
        "networkpolicy",
        "my-provider-app-ingress",
        "-o",
        "jsonpath={.spec}",
    ]);
    assert!(policy.status.success(), "{}", policy.stderr);
    let policy: serde_json::Value = serde_json::from_str(policy.stdout.trim()).unwrap();
    assert_eq!(
        policy["podSelector"]["matchLabels"],
        serde_json::json!({"name": "my-provider-app"})
    );
    assert_eq!(policy["policyTypes"], serde_json::json!(["Ingress"]));
    assert_eq!(
        policy["ingress"],
        serde_json::json!([{
            "from": [{"podSelector": {"matchLabels": {"name": "my-consumer-app"}}}],
            "ports": [{"port": "http", "protocol": "TCP"}]
        }])
    );

    // A repair keeps the token the running provider read at its start.
    lab.lab(&["up", "--target", "cluster"])
        .expect_code(0, "lab up again");
    assert_eq!(lab.lab(&["fault-token"]).stdout.trim(), token);

    lab.lab(&["down", "--target", "cluster"])
        .expect_code(0, "lab down");
    let left = lab.kubectl(&["get", "secrets,networkpolicies", "-o", "name"]);
    assert!(
        !left.stdout.contains("provider-fault-token")
            && !left.stdout.contains("my-provider-app-ingress"),
        "left behind: {}",
        left.stdout
    );
}

/// A provider applied without lab started with no token; `lab up` then makes the Secret
/// and restarts the provider so it reads it (its template alone would not change).
#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_up_after_a_plain_apply_restarts_the_provider_with_the_token() {
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(kubeconfig, "plainapply");
    let created = Running::start(
        &mut lab.command("kubectl", &["create", "namespace", lab.namespace.as_str()]),
    )
    .wait(Duration::from_secs(60));
    assert!(created.status.success(), "{}", created.stderr);
    let overlay = lab.repo.path().join("manifests/overlays/before");
    let applied = lab.kubectl(&["apply", "-k", overlay.to_str().unwrap()]);
    assert!(applied.status.success(), "{}", applied.stderr);
    let restarted_at = || {
        lab.kubectl(&[
            "get",
            "deployment",
            "my-provider-app",
            "-o",
            "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        ])
        .stdout
        .trim()
        .to_string()
    };
    assert_eq!(restarted_at(), "", "a fresh apply has not been restarted");

    let up = lab.lab(&["up", "--target", "cluster"]);
    up.expect_code(0, "lab up after a plain apply");
    up.expect_stderr("restarting my-provider-app");
    assert_ne!(restarted_at(), "", "the provider's pods were replaced");

    // Once the Secret exists, later repairs leave the provider alone.
    let before = restarted_at();
    let again = lab.lab(&["up", "--target", "cluster"]);
    again.expect_code(0, "lab up again");
    assert!(!again.stderr.contains("restarting"), "{}", again.stderr);
    assert_eq!(restarted_at(), before);
}
