//! The provider's NetworkPolicy (manifests/base/provider-network-policy.yaml) enforced on
//! a real cluster: from every node, a pod without the consumer's label is refused at the
//! provider's port within seconds, while the consumer still gets the greeting, the
//! kubelet's probes keep the provider Ready and `kubectl port-forward` reaches it.

use std::time::{Duration, Instant};

use super::cluster::{ClusterLab, has_fallback_header};
use super::{Running, get};

/// An image with curl in every offline kind node (the project's kube-proxy image is the
/// Debian base), pinned, so it is never pulled.
const CLIENT_IMAGE: &str = "registry.k8s.io/kube-proxy:v1.33.13";

/// curl's exit codes for "connection refused" and "timed out".
const REFUSED: &str = "curl-exit=7";
const TIMED_OUT: &str = "curl-exit=28";

/// Checks the policy from a pod on each node of the cluster; returns the node names.
pub fn provider_is_reachable_only_by_the_consumer(lab: &ClusterLab) -> Vec<String> {
    let nodes = lab.kubectl(&["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]);
    nodes.expect_code(0, "kubectl get nodes");
    let nodes: Vec<String> = nodes.stdout.split_whitespace().map(String::from).collect();
    assert!(!nodes.is_empty());
    let provider_ip = lab.kubectl(&[
        "get",
        "pods",
        "-l",
        "name=my-provider-app",
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ]);
    provider_ip.expect_code(0, "the provider pod's IP");
    let provider_ip = provider_ip.stdout.trim().to_string();
    assert!(!provider_ip.is_empty(), "the provider pod has no IP");

    for (i, node) in nodes.iter().enumerate() {
        // By the Service's name (DNS through CoreDNS, kube-proxy's rules) and by the pod's
        // own address: both refused, and quickly.
        for (what, url) in [
            ("service", "http://my-provider-service:8080/".to_string()),
            ("pod", format!("http://{provider_ip}:8080/")),
        ] {
            let name = format!("intruder-{i}-{what}");
            let (log, took) = run_client(lab, &name, node, &url);
            assert!(
                log.contains(REFUSED) || log.contains(TIMED_OUT),
                "an unlabelled pod on {node} reached the provider's {what}: {log}"
            );
            assert!(
                took < Duration::from_secs(6),
                "refusal on {node} took {took:?}: {log}"
            );
        }
        // The same client reaches a port no policy guards (the consumer's): the refusal
        // above is the policy's, not a broken client or network.
        let (log, _) = run_client(
            lab,
            &format!("bystander-{i}"),
            node,
            "http://my-consumer-service:8080/health/live",
        );
        assert!(
            log.contains("curl-exit=0"),
            "a pod on {node} cannot reach the consumer: {log}"
        );
    }

    // The consumer is let through: the provider's greeting, not a fallback.
    lab.wait_for_answer(
        Duration::from_secs(60),
        "the consumer's greeting",
        |s, b, h| s == 200 && b.contains("Greetings from provider") && !has_fallback_header(h),
    );
    // The kubelet's probes pass: the provider is Ready.
    let ready = lab.kubectl(&[
        "get",
        "pods",
        "-l",
        "name=my-provider-app",
        "-o",
        "jsonpath={.items[*].status.containerStatuses[0].ready}",
    ]);
    assert!(
        ready.stdout.split_whitespace().all(|r| r == "true") && !ready.stdout.trim().is_empty(),
        "provider pods ready: {}",
        ready.stdout
    );
    // kubectl port-forward reaches the provider (from inside its own network namespace).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut forward = Running::start(&mut lab.command(
        "kubectl",
        &[
            "port-forward",
            "deployment/my-provider-app",
            &format!("{port}:8080"),
        ],
    ));
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body, _)) = get(&url) {
            assert!(body.contains("Greetings from provider"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the provider never answered through kubectl port-forward"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = forward.child.kill();
    let _ = forward.wait(Duration::from_secs(10));
    nodes
}

/// Runs curl once in a pod on `node` and returns its log (with `curl-exit=N`) and how long
/// curl took by its own clock.
fn run_client(lab: &ClusterLab, name: &str, node: &str, url: &str) -> (String, Duration) {
    let overrides =
        format!(r#"{{"spec":{{"nodeName":"{node}","tolerations":[{{"operator":"Exists"}}]}}}}"#);
    let script = format!(
        "s=$(date +%s%N); curl -sS -m 5 -o /dev/null {url}; e=$?; \
         echo curl-exit=$e ms=$(( ($(date +%s%N) - s) / 1000000 ))"
    );
    let args = [
        "run",
        name,
        "--image",
        CLIENT_IMAGE,
        "--image-pull-policy",
        "Never",
        "--restart",
        "Never",
        "--overrides",
        &overrides,
        "--command",
        "--",
        "sh",
        "-c",
        &script,
    ];
    lab.kubectl(&args)
        .expect_code(0, &format!("kubectl run {name}"));
    let done = lab.run(
        "kubectl",
        &[
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            &format!("pod/{name}"),
            "--timeout=90s",
        ],
        Duration::from_secs(100),
    );
    let log = lab.kubectl(&["logs", name]).stdout;
    let _ = lab.kubectl(&["delete", "pod", name, "--wait=false"]);
    done.expect_code(0, &format!("pod {name} finished: {log}"));
    let ms = log
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ms="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    (log, Duration::from_millis(ms))
}
