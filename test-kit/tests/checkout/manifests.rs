//! The Kubernetes manifests (`manifests/`, `kind/cluster.yaml`) and the tutorial's address
//! script, checked as the lab and the tutorial rely on them.
//!
//! - Local tier: every overlay renders (`kubectl kustomize`, read into k8s-openapi types),
//!   `before` and `after` differ only in `CONSUMER_RESILIENCE`, kind publishes the
//!   consumer's one node port, the provider's NetworkPolicy and fault token, and the
//!   fault-proxy overlays put the proxy between consumer and provider.
//! - Kubernetes tier: each overlay applied in a fresh namespace that enforces the
//!   "restricted" Pod Security Standard (a non-compliant pod must be refused there, so the
//!   check can fail), its Deployments Available, labels, Services and EndpointSlices as the
//!   tutorial expects, and `scripts/get-consumer-service-address.sh` printing the node's
//!   address (plain, kind and minikube contexts) or a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The consumer Service's node port: the address script and kind's port mapping use it.
const NODE_PORT: i32 = 30080;

/// `kubectl` (the control plane's pinned one first), run from the checkout's root.
fn kubectl() -> Command {
    let mut command = Command::new("kubectl");
    command
        .env("PATH", test_kit::kube::path_with_kubectl())
        .current_dir(test_kit::repo::root());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| {
        panic!("cannot run {command:?} (kubectl on PATH, or `make k8s-build`): {e}")
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// What an overlay renders to: every document, and the kinds the checks read, typed.
struct Rendered {
    overlay: String,
    documents: Vec<Value>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    policies: Vec<NetworkPolicy>,
}

fn typed<T: DeserializeOwned>(overlay: &str, document: &Value) -> T {
    serde_json::from_value(document.clone()).unwrap_or_else(|e| {
        panic!(
            "overlay '{overlay}': a {} that does not read: {e}",
            document["kind"]
        )
    })
}

/// Renders `manifests/overlays/<overlay>` with kubectl's built-in kustomize.
fn render(overlay: &str) -> Rendered {
    let out = run(kubectl().args(["kustomize", &format!("manifests/overlays/{overlay}")]));
    assert!(
        out.status.success(),
        "overlay '{overlay}' does not render (kubectl kustomize manifests/overlays/{overlay}): {}",
        text(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("kustomize writes UTF-8");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&yaml)
        .unwrap_or_else(|e| panic!("overlay '{overlay}' renders YAML that does not read: {e}"));
    let mut rendered = Rendered {
        overlay: overlay.to_string(),
        documents: Vec::new(),
        deployments: Vec::new(),
        services: Vec::new(),
        policies: Vec::new(),
    };
    for document in documents {
        match document["kind"].as_str() {
            Some("Deployment") => rendered.deployments.push(typed(overlay, &document)),
            Some("Service") => rendered.services.push(typed(overlay, &document)),
            Some("NetworkPolicy") => rendered.policies.push(typed(overlay, &document)),
            _ => {}
        }
        rendered.documents.push(document);
    }
    assert!(
        !rendered.deployments.is_empty(),
        "overlay '{overlay}' renders no Deployment"
    );
    rendered
}

fn name_of(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    metadata.name.as_deref().unwrap_or_default()
}

impl Rendered {
    fn deployment(&self, name: &str) -> &Deployment {
        self.deployments
            .iter()
            .find(|d| name_of(&d.metadata) == name)
            .unwrap_or_else(|| panic!("overlay '{}' has no Deployment {name}", self.overlay))
    }

    fn policy(&self, name: &str) -> Option<&NetworkPolicy> {
        self.policies.iter().find(|p| name_of(&p.metadata) == name)
    }

    fn containers(&self) -> impl Iterator<Item = &Container> {
        self.deployments.iter().flat_map(|d| {
            d.spec
                .template
                .spec
                .iter()
                .flat_map(|spec| spec.containers.iter())
        })
    }
}

fn container<'a>(deployment: &'a Deployment, name: &str) -> &'a Container {
    deployment
        .spec
        .template
        .spec
        .iter()
        .flat_map(|spec| spec.containers.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| {
            panic!(
                "Deployment {} has no container {name}",
                name_of(&deployment.metadata)
            )
        })
}

/// The literal value of the environment variable `name` of `container`.
fn env_value(container: &Container, name: &str) -> Option<String> {
    container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

/// The rendered documents with every `CONSUMER_RESILIENCE` value masked.
fn masked_resilience(rendered: &Rendered) -> Vec<Value> {
    rendered
        .documents
        .iter()
        .map(|document| {
            if document["kind"] != "Deployment" {
                return document.clone();
            }
            let mut deployment: Deployment = typed(&rendered.overlay, document);
            let containers = deployment
                .spec
                .template
                .spec
                .iter_mut()
                .flat_map(|spec| spec.containers.iter_mut());
            for container in containers {
                for var in container.env.iter_mut().flatten() {
                    if var.name == "CONSUMER_RESILIENCE" {
                        var.value = Some("<resilience value>".to_string());
                    }
                }
            }
            serde_json::to_value(&deployment).expect("a Deployment serializes")
        })
        .collect()
}

fn selector(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some([("name".to_string(), name.to_string())].into()),
        ..LabelSelector::default()
    }
}

fn pods_named(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector(name)),
        ..NetworkPolicyPeer::default()
    }
}

#[test]
fn the_overlays_render_and_differ_only_in_consumer_resilience() {
    let before = render("before");
    let after = render("after");
    let (masked_before, masked_after) = (masked_resilience(&before), masked_resilience(&after));
    assert_eq!(
        masked_before.len(),
        masked_after.len(),
        "overlays differ in more than CONSUMER_RESILIENCE: another number of objects"
    );
    for (b, a) in masked_before.iter().zip(&masked_after) {
        assert_eq!(
            b, a,
            "overlays differ in more than CONSUMER_RESILIENCE:\nbefore: {b:#}\nafter: {a:#}"
        );
    }
    let mode = |rendered: &Rendered| {
        env_value(
            container(rendered.deployment("my-consumer-app"), "consumer-app"),
            "CONSUMER_RESILIENCE",
        )
    };
    assert_eq!(
        (mode(&before).as_deref(), mode(&after).as_deref()),
        (Some("off"), Some("on")),
        "CONSUMER_RESILIENCE should be \"off\" in before and \"on\" in after"
    );
}

/// kind's part of the cluster file this check reads.
#[derive(Deserialize)]
struct KindCluster {
    nodes: Vec<KindNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KindNode {
    #[serde(default)]
    extra_port_mappings: Vec<PortMapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortMapping {
    container_port: i32,
    host_port: i32,
}

/// The address script's kind answer (`localhost:<nodePort>`) relies on this mapping.
#[test]
fn kind_maps_the_consumers_one_node_port_to_the_same_host_port() {
    let before = render("before");
    let node_ports: Vec<i32> = before
        .services
        .iter()
        .flat_map(|s| s.spec.iter().flat_map(|spec| spec.ports.iter().flatten()))
        .filter_map(|p| p.node_port)
        .collect();
    assert_eq!(
        node_ports,
        [NODE_PORT],
        "the rendered manifests should have exactly one nodePort, {NODE_PORT}"
    );
    let path = test_kit::repo::root().join("kind/cluster.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read kind/cluster.yaml");
    let cluster: KindCluster =
        serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        cluster
            .nodes
            .iter()
            .flat_map(|n| &n.extra_port_mappings)
            .any(|m| m.container_port == NODE_PORT && m.host_port == NODE_PORT),
        "kind/cluster.yaml should map containerPort {NODE_PORT} to hostPort {NODE_PORT}"
    );
}

/// Who may reach the provider and change its faults (issue 13): only the consumer's pods
/// on the provider's port, and the fault token from lab's Secret, optional so a plain
/// `kubectl apply -k` still starts.
#[test]
fn only_the_consumer_reaches_the_provider_which_reads_its_token_from_an_optional_secret() {
    let before = render("before");
    let policy = before
        .policies
        .iter()
        .find(|p| {
            p.spec
                .as_ref()
                .is_some_and(|s| s.pod_selector == Some(selector("my-provider-app")))
        })
        .expect("the rendered manifests should have a NetworkPolicy for the provider");
    let spec = policy.spec.as_ref().expect("a NetworkPolicy has a spec");
    assert_eq!(
        (spec.policy_types.as_deref(), spec.ingress.as_deref()),
        (
            Some(&["Ingress".to_string()][..]),
            Some(
                &[NetworkPolicyIngressRule {
                    from: Some(vec![pods_named("my-consumer-app")]),
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::String("http".to_string())),
                        protocol: Some("TCP".to_string()),
                        ..NetworkPolicyPort::default()
                    }]),
                }][..]
            )
        ),
        "the provider's NetworkPolicy should admit only name=my-consumer-app pods on port http"
    );

    let provider = container(before.deployment("my-provider-app"), "provider-app");
    let token = provider
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "FAULT_API_TOKEN")
        .and_then(|e| e.value_from.as_ref())
        .and_then(|from| from.secret_key_ref.as_ref());
    assert!(
        token.is_some_and(|r| r.name == "provider-fault-token"
            && r.key == "token"
            && r.optional == Some(true)),
        "the provider should read FAULT_API_TOKEN from secretKeyRef provider-fault-token/token, optional: true; got {token:?}"
    );
}

/// The fault proxy's overlays (components/fault-proxy): the consumer calls the proxy, the
/// provider admits the consumer and the proxy, the proxy has its own policy, its API stays
/// on the pod's loopback, and every container's root filesystem is read-only.
#[test]
fn the_fault_proxy_overlays_put_the_proxy_between_consumer_and_provider() {
    for overlay in ["fault-proxy-before", "fault-proxy-after"] {
        let rendered = render(overlay);
        let mut problems = Vec::new();
        let consumer = container(rendered.deployment("my-consumer-app"), "consumer-app");
        if env_value(consumer, "PROVIDER_URL").as_deref() != Some("http://fault-proxy:8080/") {
            problems.push("the consumer's PROVIDER_URL is not http://fault-proxy:8080/");
        }
        let proxy = container(rendered.deployment("fault-proxy"), "fault-proxy");
        let args = proxy.args.as_deref().unwrap_or_default();
        if !args
            .windows(2)
            .any(|w| w[0] == "-host" && w[1] == "127.0.0.1")
        {
            problems.push("the proxy's API is not bound to 127.0.0.1");
        }
        match rendered.policy("my-provider-app-ingress") {
            None => problems.push("no NetworkPolicy my-provider-app-ingress"),
            Some(policy) => {
                let from = policy
                    .spec
                    .iter()
                    .flat_map(|s| s.ingress.iter().flatten())
                    .filter_map(|rule| rule.from.as_deref());
                let wanted = [pods_named("my-consumer-app"), pods_named("fault-proxy")];
                if !from
                    .into_iter()
                    .any(|peers| peers.windows(2).any(|w| w == wanted))
                {
                    problems.push(
                        "the provider's NetworkPolicy should admit name=my-consumer-app and name=fault-proxy pods",
                    );
                }
            }
        }
        if rendered.policy("fault-proxy-ingress").is_none() {
            problems.push("no NetworkPolicy fault-proxy-ingress for the proxy");
        }
        let read_only = rendered
            .containers()
            .filter(|c| {
                c.security_context
                    .as_ref()
                    .and_then(|s| s.read_only_root_filesystem)
                    == Some(true)
            })
            .count();
        if read_only != 3 {
            problems.push(
                "every container (provider, consumer, proxy) should have a read-only root filesystem",
            );
        }
        assert!(problems.is_empty(), "overlay '{overlay}': {problems:#?}");
    }
}

// --- Kubernetes tier ---------------------------------------------------------------------

/// The objects of a `kubectl get ... -o json` answer (kind `List`, which
/// `k8s_openapi::List` does not take).
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Items<T> {
    items: Vec<T>,
}

/// kubectl against the tier's cluster.
struct Cluster {
    kubeconfig: PathBuf,
}

impl Cluster {
    fn new() -> Cluster {
        let kubeconfig = test_kit::tier::kubeconfig();
        let cluster = Cluster { kubeconfig };
        let out = cluster.kubectl(&["--request-timeout=5s", "get", "--raw", "/readyz"]);
        assert!(
            out.status.success(),
            "the cluster of '{}' is not ready: {}",
            cluster.kubeconfig.display(),
            text(&out.stderr)
        );
        cluster
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        run(kubectl()
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args))
    }

    /// `kubectl args`, which must succeed; its stdout and stderr together.
    fn ok(&self, what: &str, args: &[&str]) -> String {
        let out = self.kubectl(args);
        let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{what}: {all}");
        all
    }

    /// `kubectl get ... -o json`, read as `T`.
    fn get<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let out = self.kubectl(&[args, &["-o", "json"]].concat());
        assert!(
            out.status.success(),
            "kubectl get {args:?}: {}",
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("kubectl get {args:?} answered JSON that does not read: {e}")
        })
    }

    /// The node addresses the script may print: those of nodes not labelled as control
    /// plane if there are any, else of every node. Worked out here from the node list,
    /// independently of the script.
    fn node_ips(&self) -> Vec<String> {
        let ips = |selector: &[&str]| -> Vec<String> {
            let nodes: Items<Node> = self.get(&[&["get", "nodes"], selector].concat());
            nodes
                .items
                .iter()
                .flat_map(|n| n.status.iter().flat_map(|s| s.addresses.iter().flatten()))
                .filter(|a| a.type_ == "InternalIP")
                .map(|a| a.address.clone())
                .collect()
        };
        let workers = ips(&["-l", "!node-role.kubernetes.io/control-plane"]);
        if workers.is_empty() {
            ips(&[])
        } else {
            workers
        }
    }

    /// Services (namespace/name) that hold the consumer's node port: it is cluster-wide,
    /// so a lab deployed elsewhere, or a namespace of an earlier run still terminating,
    /// may hold it.
    fn node_port_holders(&self) -> Vec<String> {
        let services: Items<Service> = self.get(&["get", "services", "--all-namespaces"]);
        services
            .items
            .iter()
            .filter(|s| {
                s.spec
                    .iter()
                    .flat_map(|spec| spec.ports.iter().flatten())
                    .any(|p| p.node_port == Some(NODE_PORT))
            })
            .map(|s| {
                format!(
                    "{}/{}",
                    s.metadata.namespace.as_deref().unwrap_or_default(),
                    name_of(&s.metadata)
                )
            })
            .collect()
    }

    /// Runs the tutorial's address script with `args` (and this kubeconfig unless
    /// `kubeconfig` names another); its exit status and its output, trimmed.
    fn address_script(&self, kubeconfig: Option<&Path>, args: &[&str]) -> (bool, String) {
        let out = run(Command::new(
            test_kit::repo::root().join("scripts/get-consumer-service-address.sh"),
        )
        .env("PATH", test_kit::kube::path_with_kubectl())
        .arg("--kubeconfig")
        .arg(kubeconfig.unwrap_or(self.kubeconfig.as_path()))
        .args(args));
        let all = [text(&out.stdout), text(&out.stderr)].join("\n");
        (out.status.success(), all.trim().to_string())
    }
}

/// A namespace of this test, deleted (without waiting) when dropped.
struct Namespace<'a> {
    cluster: &'a Cluster,
    name: String,
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        let _ = self.cluster.kubectl(&[
            "delete",
            "namespace",
            &self.name,
            "--wait=false",
            "--ignore-not-found",
        ]);
    }
}

fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("{secs}-{}", std::process::id())
}

/// Waits up to `limit` for `condition`, polling every `every`.
fn wait_for(limit: Duration, every: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A Service as the tutorial sees it: name, type, first port and its node port.
type ServiceShape = (String, Option<String>, Option<i32>, Option<i32>);

/// One overlay on the cluster, each step asserted in turn (a failed step makes the later
/// ones meaningless, so the test stops there).
fn overlay_on_the_cluster(overlay: &str, want_mode: &str) {
    let cluster = Cluster::new();
    // The node port is cluster-wide: tests that apply the manifests take turns.
    let _lock = test_kit::kube::node_port_lock(&cluster.kubeconfig);
    let step = |what: &str| format!("[{overlay}] {what}");
    let mut holders = Vec::new();
    assert!(
        wait_for(Duration::from_secs(90), Duration::from_secs(2), || {
            holders = cluster.node_port_holders();
            holders.is_empty()
        }),
        "{}: {holders:?}; delete that Service or its namespace, then run again",
        step(&format!("node port {NODE_PORT} is still in use after 90s"))
    );

    let namespace = Namespace {
        cluster: &cluster,
        name: format!("cascade-check-{overlay}-{}", run_id()),
    };
    let ns = namespace.name.as_str();
    cluster.ok(
        &step(&format!("cannot create namespace {ns}")),
        &["create", "namespace", ns],
    );
    cluster.ok(
        &step(&format!("cannot label namespace {ns}")),
        &[
            "label",
            "namespace",
            ns,
            "pod-security.kubernetes.io/enforce=restricted",
            "pod-security.kubernetes.io/enforce-version=latest",
            "pod-security.kubernetes.io/warn=restricted",
            "pod-security.kubernetes.io/warn-version=latest",
        ],
    );

    // Negative control: the admission really enforces "restricted" here, so the
    // manifests being admitted below means something.
    let out = cluster.kubectl(&[
        "-n",
        ns,
        "run",
        "psa-negative-control",
        "--image=cascade-lab/provider-app:dev",
        "--restart=Never",
        "--dry-run=server",
    ]);
    let said = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "{}: {said}",
        step(
            "a pod without a security context was admitted: pod-security admission is not enforcing"
        )
    );
    assert!(
        said.contains("violates PodSecurity \"restricted"),
        "{}: {said}",
        step("a non-compliant pod was rejected, but not by pod-security admission")
    );

    // Warnings name every workload whose pod template would violate the standard.
    let kustomization = format!("manifests/overlays/{overlay}");
    let dry = cluster.ok(
        &step("server-side dry run failed"),
        &["-n", ns, "apply", "--dry-run=server", "-k", &kustomization],
    );
    assert!(
        !dry.to_lowercase().contains("podsecurity"),
        "{}: {dry}",
        step("server-side dry run warns about Pod Security")
    );
    let applied = cluster.ok(
        &step(&format!("kubectl apply -k {kustomization} failed")),
        &["-n", ns, "apply", "-k", &kustomization],
    );
    assert!(
        !applied.to_lowercase().contains("podsecurity"),
        "{}: {applied}",
        step("apply warns about Pod Security")
    );

    // Pods rejected by admission would leave the Deployments unavailable; the
    // ReplicaSet events then say why.
    let timeout = "--timeout=180s";
    let out = cluster.kubectl(&[
        "-n",
        ns,
        "wait",
        "--for=condition=Available",
        timeout,
        "deployment/my-provider-app",
        "deployment/my-consumer-app",
    ]);
    if !out.status.success() {
        let state = cluster.kubectl(&[
            "-n",
            ns,
            "get",
            "deployments,replicasets,pods",
            "-o",
            "wide",
        ]);
        let events = cluster.kubectl(&["-n", ns, "get", "events"]);
        panic!(
            "{}: {}\n{}\n{}",
            step("Deployments not Available within 180s"),
            text(&out.stderr),
            text(&state.stdout),
            text(&events.stdout)
        );
    }

    for (app, service) in [
        ("my-provider-app", "my-provider-service"),
        ("my-consumer-app", "my-consumer-service"),
    ] {
        let selector = format!("name={app},service={service}");
        let pods: Items<Pod> = cluster.get(&["-n", ns, "get", "pods", "-l", &selector]);
        let phases: Vec<Option<String>> = pods
            .items
            .iter()
            .map(|p| p.status.as_ref().and_then(|s| s.phase.clone()))
            .collect();
        assert!(
            !phases.is_empty() && phases.iter().all(|p| p.as_deref() == Some("Running")),
            "{}: {phases:?}",
            step(&format!("pods labelled {selector} should be Running"))
        );
    }

    let consumer: Deployment = cluster.get(&["-n", ns, "get", "deployment", "my-consumer-app"]);
    assert_eq!(
        env_value(container(&consumer, "consumer-app"), "CONSUMER_RESILIENCE").as_deref(),
        Some(want_mode),
        "{}",
        step(&format!(
            "consumer's CONSUMER_RESILIENCE should be '{want_mode}'"
        ))
    );

    let services: Items<Service> = cluster.get(&[
        "-n",
        ns,
        "get",
        "services",
        "my-provider-service",
        "my-consumer-service",
    ]);
    let shapes: Vec<ServiceShape> = services
        .items
        .iter()
        .map(|s| {
            let spec = s.spec.clone().unwrap_or_default();
            let first = spec.ports.as_ref().and_then(|p| p.first());
            (
                name_of(&s.metadata).to_string(),
                spec.type_.clone(),
                first.map(|p| p.port),
                first.and_then(|p| p.node_port),
            )
        })
        .collect();
    let shape = |name: &str, kind: &str, node_port| {
        (
            name.to_string(),
            Some(kind.to_string()),
            Some(8080),
            node_port,
        )
    };
    assert_eq!(
        shapes,
        [
            shape("my-provider-service", "ClusterIP", None),
            shape("my-consumer-service", "NodePort", Some(NODE_PORT)),
        ],
        "{}",
        step("services should be: provider ClusterIP :8080, consumer NodePort :8080 -> 30080")
    );

    // The selectors must match the pod labels: each Service has its Deployment's ready pod
    // behind it (the EndpointSlice controller fills this in shortly after the pods are ready).
    for (service, app) in [
        ("my-provider-service", "my-provider-app"),
        ("my-consumer-service", "my-consumer-app"),
    ] {
        let label = format!("kubernetes.io/service-name={service}");
        let mut backends = Vec::new();
        let found = wait_for(Duration::from_secs(30), Duration::from_secs(1), || {
            let slices: Items<EndpointSlice> =
                cluster.get(&["-n", ns, "get", "endpointslices", "-l", &label]);
            backends = slices
                .items
                .iter()
                .flat_map(|s| s.endpoints.iter().flatten())
                .map(|e| {
                    let ready = e.conditions.as_ref().and_then(|c| c.ready) == Some(true);
                    let pod = e.target_ref.as_ref().and_then(|r| r.name.clone());
                    (ready, pod.unwrap_or_default())
                })
                .collect();
            backends
                .iter()
                .any(|(ready, pod)| *ready && pod.starts_with(&format!("{app}-")))
        });
        assert!(
            found,
            "{}: endpoints {backends:?}",
            step(&format!(
                "service {service} should have a ready {app} pod behind it within 30s"
            ))
        );
    }

    let expected: Vec<String> = cluster
        .node_ips()
        .iter()
        .map(|ip| {
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.clone()
            };
            format!("http://{host}:{NODE_PORT}/invokeConsumedService")
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "{}",
        step("the cluster has no node with an InternalIP: the node port cannot be checked")
    );
    let (ok, node_address) = cluster.address_script(None, &["-n", ns]);
    assert!(
        ok,
        "{}: {node_address}",
        step("get-consumer-service-address.sh failed")
    );
    assert!(
        expected.contains(&node_address),
        "{}: expected one of {expected:?}",
        step(&format!("address script printed '{node_address}'"))
    );

    // The kind branch: the same cluster, its context renamed the way kind names it; the
    // minikube branch: a context named minikube looks for the node named minikube, which
    // this cluster does not have, so the answer falls back to the node's address.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let kind_config = dir.path().join("kind-kubeconfig");
    let minikube_config = dir.path().join("minikube-kubeconfig");
    for (config, context, want) in [
        (
            &kind_config,
            "kind-cascade-lab",
            format!("http://localhost:{NODE_PORT}/invokeConsumedService"),
        ),
        (&minikube_config, "minikube", node_address.clone()),
    ] {
        std::fs::copy(&cluster.kubeconfig, config).expect("copy the kubeconfig");
        let copy = Cluster {
            kubeconfig: config.clone(),
        };
        let current = copy.ok(
            &step("cannot read the kubeconfig's context"),
            &["config", "current-context"],
        );
        copy.ok(
            &step(&format!(
                "cannot make a kubeconfig copy with a {context} context"
            )),
            &["config", "rename-context", current.trim(), context],
        );
        let (ok, address) = cluster.address_script(Some(config), &["-n", ns]);
        assert!(
            ok,
            "{}: {address}",
            step(&format!(
                "get-consumer-service-address.sh failed for a {context} context"
            ))
        );
        assert_eq!(
            address,
            want,
            "{}",
            step(&format!("the address for a {context} context"))
        );
    }

    cluster.ok(
        &step(&format!("namespace {ns} not deleted within 120s")),
        &["delete", "namespace", ns, "--wait=true", "--timeout=120s"],
    );
}

#[test]
#[ignore = "kubernetes tier: a control plane (CASCADE_KUBECONFIG)"]
fn kubernetes_tier_the_before_overlay_is_admitted_as_restricted_and_serves_the_tutorial() {
    overlay_on_the_cluster("before", "off");
}

#[test]
#[ignore = "kubernetes tier: a control plane (CASCADE_KUBECONFIG)"]
fn kubernetes_tier_the_after_overlay_is_admitted_as_restricted_and_serves_the_tutorial() {
    overlay_on_the_cluster("after", "on");
}

#[test]
#[ignore = "kubernetes tier: a control plane (CASCADE_KUBECONFIG)"]
fn kubernetes_tier_the_address_script_fails_clearly() {
    let cluster = Cluster::new();
    let id = run_id();
    let missing = format!("cascade-check-missing-{id}");
    let context = format!("no-such-context-{id}");
    // (arguments, what the failure must say, what it must not, what is wrong)
    let cases = [
        (
            ["-n", missing.as_str()],
            format!("service 'my-consumer-service' not found in namespace '{missing}'"),
            None,
            "a service that does not exist: the error should name the service and namespace",
        ),
        (
            ["--context", context.as_str()],
            format!("context was not found for specified context: {context}"),
            Some("is the lab deployed"),
            "an unknown context: the error should pass on kubectl's reason",
        ),
    ];
    for (args, must_say, must_not_say, what) in cases {
        let (ok, said) = cluster.address_script(None, &args);
        assert!(
            !ok,
            "address script should fail for {what}; printed: {said}"
        );
        assert!(
            said.contains(&must_say) && must_not_say.is_none_or(|n| !said.contains(n)),
            "address script, {what}: {said}"
        );
    }
}

/// Where manifests/in-cluster runs the experiment's runner.
const RUNNER_NAMESPACE: &str = "cascade-lab-chaos";

/// Renders a kustomization directory (not an overlay: no Deployment is required).
fn render_dir(dir: &str) -> Vec<Value> {
    let out = run(kubectl().args(["kustomize", dir]));
    assert!(
        out.status.success(),
        "{dir} does not render (kubectl kustomize {dir}): {}",
        text(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("kustomize writes UTF-8");
    serde_saphyr::from_multiple(&yaml)
        .unwrap_or_else(|e| panic!("{dir} renders YAML that does not read: {e}"))
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

/// The runner's pod as manifests/in-cluster runs it: its own ServiceAccount, the
/// experiment from the ConfigMap, the journal on stdout, non-root on a read-only root
/// filesystem with no capabilities.
fn check_runner_pod(what: &str, pod: &k8s_openapi::api::core::v1::PodSpec) {
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("chaos-runner"),
        "{what}"
    );
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"), "{what}");
    let context = pod
        .security_context
        .as_ref()
        .expect("a pod security context");
    assert_eq!(context.run_as_non_root, Some(true), "{what}");
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("cascade-lab/chaos-runner:dev"),
        "{what}"
    );
    assert_eq!(
        container.args.as_deref(),
        Some(&["run", "--journal-path", "-", "/experiment/experiment.json"].map(String::from)[..]),
        "{what}"
    );
    assert_eq!(
        env_value(container, "CHAOSTOOLKIT_IN_POD").as_deref(),
        Some("true"),
        "{what}"
    );
    let security = container
        .security_context
        .as_ref()
        .expect("a container security context");
    assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()]),
        "{what}"
    );
    let volumes = pod.volumes.as_deref().unwrap_or_default();
    assert!(
        volumes.iter().any(|v| v
            .config_map
            .as_ref()
            .is_some_and(|c| c.name == "chaos-experiment")),
        "{what}: the experiment from the ConfigMap chaos-experiment"
    );
}

#[test]
fn the_in_cluster_runner_has_only_the_rights_the_tutorial_needs() {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role, RoleBinding};

    // The runner's side: its own namespace, its identity, the Job.
    let runner = render_dir("manifests/in-cluster");
    let kinds: Vec<&str> = runner.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["Namespace", "ServiceAccount", "Job"]);
    for document in &runner[1..] {
        assert_eq!(
            document["metadata"]["namespace"], RUNNER_NAMESPACE,
            "{document:#}"
        );
    }
    // The lab's side: the Role and its binding to the runner's ServiceAccount.
    let documents = render_dir("manifests/in-cluster/rbac");
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["Role", "RoleBinding"]);
    let role: Role = typed("in-cluster", of_kind(&documents, "Role")[0]);
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..PolicyRule::default()
    };
    // The tutorial's experiment: all_microservices_healthy and kill_microservice.
    assert_eq!(
        role.rules.unwrap_or_default(),
        [
            rule(&[""], &["pods"], &["list", "delete"]),
            rule(
                &["apps"],
                &["deployments", "replicasets"],
                &["list", "delete"]
            ),
        ]
    );
    let binding: RoleBinding = typed("in-cluster", of_kind(&documents, "RoleBinding")[0]);
    assert_eq!(
        (
            binding.role_ref.kind.as_str(),
            binding.role_ref.name.as_str()
        ),
        ("Role", "chaos-runner")
    );
    let subjects = binding.subjects.unwrap_or_default();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (
            subjects[0].kind.as_str(),
            subjects[0].name.as_str(),
            subjects[0].namespace.as_deref()
        ),
        ("ServiceAccount", "chaos-runner", Some(RUNNER_NAMESPACE))
    );
    let job: Job = typed("in-cluster", of_kind(&runner, "Job")[0]);
    let job_spec = job.spec.expect("a Job spec");
    assert_eq!(
        job_spec.backoff_limit,
        Some(0),
        "an experiment is not retried"
    );
    let job_pod = job_spec.template.spec.expect("a pod spec");
    check_runner_pod("the Job", &job_pod);

    // The CronJob runs the same pod on a schedule, never two at once.
    let documents = render_dir("manifests/in-cluster/cronjob");
    let cron: CronJob = typed("in-cluster/cronjob", of_kind(&documents, "CronJob")[0]);
    let cron = cron.spec;
    assert_eq!(cron.concurrency_policy.as_deref(), Some("Forbid"));
    let cron_pod = cron
        .job_template
        .spec
        .and_then(|s| s.template.spec)
        .expect("a pod spec");
    check_runner_pod("the CronJob", &cron_pod);
    assert_eq!(cron_pod, job_pod, "the CronJob's pod is the Job's");
    assert_eq!(of_kind(&documents, "ServiceAccount").len(), 1);
    for document in documents.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(
            document["metadata"]["namespace"], RUNNER_NAMESPACE,
            "{document:#}"
        );
    }

    // The node functions' rights are cluster-wide, so they are a separate choice.
    let documents = render_dir("manifests/in-cluster/nodes");
    let role: ClusterRole = typed("in-cluster/nodes", of_kind(&documents, "ClusterRole")[0]);
    for rule in role.rules.unwrap_or_default() {
        assert!(
            !rule.verbs.iter().any(|v| v == "*"),
            "no wildcard verbs: {rule:?}"
        );
        let resources = rule.resources.unwrap_or_default();
        assert!(
            resources
                .iter()
                .all(|r| ["nodes", "pods", "pods/eviction"].contains(&r.as_str())),
            "only nodes and pods: {resources:?}"
        );
    }
}

/// `ha-after` (issue 22): the fixed consumer with replicas spread over the nodes, a
/// disruption budget a drain must respect, terminating pods leaving the Service before
/// they stop, and pods of a failed node replaced after 20 s.
#[test]
fn the_ha_overlay_spreads_replicas_over_nodes_and_budgets_their_disruption() {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    let ha = render("ha-after");
    let after = render("after");
    assert_eq!(
        env_value(
            container(ha.deployment("my-consumer-app"), "consumer-app"),
            "CONSUMER_RESILIENCE"
        ),
        env_value(
            container(after.deployment("my-consumer-app"), "consumer-app"),
            "CONSUMER_RESILIENCE"
        ),
        "ha-after runs the fixed consumer"
    );
    for (name, replicas, min_available) in [("my-provider-app", 3, 1), ("my-consumer-app", 2, 1)] {
        let deployment = ha.deployment(name);
        let spec = &deployment.spec;
        assert_eq!(spec.replicas, Some(replicas), "{name}");
        let pod = spec.template.spec.as_ref().expect("a pod spec");
        let spread = pod
            .topology_spread_constraints
            .as_deref()
            .unwrap_or_default();
        assert!(
            spread
                .iter()
                .any(|c| c.topology_key == "kubernetes.io/hostname"
                    && c.max_skew == 1
                    && c.when_unsatisfiable == "DoNotSchedule"
                    && c.node_taints_policy.as_deref() == Some("Honor")
                    && c.label_selector == Some(selector(name))),
            "{name}: spread over nodes: {spread:?}"
        );
        let tolerations = pod.tolerations.as_deref().unwrap_or_default();
        for key in [
            "node.kubernetes.io/unreachable",
            "node.kubernetes.io/not-ready",
        ] {
            assert!(
                tolerations
                    .iter()
                    .any(|t| t.key.as_deref() == Some(key) && t.toleration_seconds == Some(20)),
                "{name}: {key} tolerated 20 s: {tolerations:?}"
            );
        }
        let main = &pod.containers[0];
        assert!(
            main.lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .and_then(|h| h.sleep.as_ref())
                .is_some_and(|s| s.seconds >= 1),
            "{name}: a preStop pause keeps a terminating pod serving while it leaves the Service"
        );
        assert!(main.readiness_probe.is_some(), "{name}: a readiness probe");
        let budget: PodDisruptionBudget = ha
            .documents
            .iter()
            .filter(|d| d["kind"] == "PodDisruptionBudget" && d["metadata"]["name"] == name)
            .map(|d| typed(&ha.overlay, d))
            .next()
            .unwrap_or_else(|| panic!("ha-after has no PodDisruptionBudget {name}"));
        let budget = budget.spec.expect("a budget has a spec");
        assert_eq!(
            (budget.min_available, budget.selector),
            (Some(IntOrString::Int(min_available)), Some(selector(name))),
            "{name}'s PodDisruptionBudget"
        );
    }
    // The provider's NetworkPolicy still holds.
    assert!(ha.policy("my-provider-app-ingress").is_some());
}
