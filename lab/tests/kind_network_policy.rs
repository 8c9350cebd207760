//! The provider's NetworkPolicy on a one-node kind cluster (kind tier): the same checks
//! `lab/tests/kind.rs` makes on a cluster with workers (common::network_policy), here on
//! the cluster `scripts/kind-test.sh` brought up with `lab up --target kind` for
//! chaosk8s's tests (its kubeconfig in `CASCADE_KUBECONFIG`), so no cluster of its own
//! is made: the pod on the only node is refused, the consumer let through. Then
//! chaostoolkit-kubernetes's `deny_all_ingress`, run natively by chaos-runner, really cuts
//! the consumer's pods off from their users (through the node port), and its rollback
//! `remove_deny_all_ingress` lets them through again. (Not the provider's: policies add
//! up, and the lab's own policy lets the consumer in whatever a deny-all adds.) Then
//! `deny_all_egress` on the consumer's pods: the users still reach the consumer, which
//! can no longer reach the provider (the tutorial's `before` consumer answers 500), and
//! `remove_deny_all_egress` brings the greeting back.

mod common;

use std::time::Duration;

use common::cluster::ClusterLab;
use common::network_policy;
use serde_json::{Value, json};

/// An experiment: the consumer asked; `deny_all_<direction>` on the consumer's pods; the
/// consumer asked again; the rollback removes the policy. (No steady-state hypothesis:
/// its check after the method would fail on the refused connection, and the run with
/// it; the probes' outputs in the journal are what the test reads.)
fn deny_all_experiment(url: &str, direction: &str) -> Value {
    let probe = |name: &str| {
        json!({
            "type": "probe",
            "name": name,
            "provider": {"type": "http", "url": url, "timeout": 5}
        })
    };
    let action = |name: &str, func: &str, arguments: Value| {
        json!({
            "type": "action",
            "name": name,
            "provider": {
                "type": "python",
                "module": "chaosk8s.networking.actions",
                "func": func,
                "arguments": arguments
            }
        })
    };
    let mut deny = action(
        &format!("deny-all-{direction}-of-the-consumer"),
        &format!("deny_all_{direction}"),
        json!({"label_selectors": {"name": "my-consumer-app"}, "ns": "default"}),
    );
    // As with most network plugins, a policy applies to new connections: a kept-alive
    // one, open before it, lives until its server closes it idle (actix: after 5 s).
    deny["pauses"] = json!({"after": 8});
    json!({
        "version": "1.0.0",
        "title": format!("deny_all_{direction} on the consumer's pods"),
        "description": "The users feel it.",
        "method": [
            probe("consumer-before"),
            deny,
            probe("consumer-while-denied")
        ],
        "rollbacks": [action(
            &format!("remove-deny-all-{direction}"),
            &format!("remove_deny_all_{direction}"),
            json!({"ns": "default"})
        )]
    })
}

/// Runs [`deny_all_experiment`] with chaos-runner (native chaosk8s); its journal, which
/// says the run completed, the first answer was the greeting and the rollback succeeded;
/// the policy is gone and the greeting back afterwards.
fn run_deny_all(lab: &ClusterLab, direction: &str) -> Value {
    let experiment = lab.path(&format!("deny-all-{direction}.json"));
    std::fs::write(
        &experiment,
        serde_json::to_vec_pretty(&deny_all_experiment(lab.url(), direction)).expect("JSON"),
    )
    .expect("write the experiment");
    let journal_path = lab.path(&format!("deny-all-{direction}-journal.json"));
    let out = lab.run(
        "chaos-runner",
        &[
            "run",
            "--journal-path",
            journal_path.to_str().expect("utf-8 path"),
            experiment.to_str().expect("utf-8 path"),
        ],
        Duration::from_secs(120),
    );
    let journal: Value = serde_json::from_str(
        &std::fs::read_to_string(&journal_path)
            .unwrap_or_else(|_| panic!("no journal\n{}\n{}", out.stdout, out.stderr)),
    )
    .expect("journal is JSON");
    assert_eq!(journal["status"], "completed", "{journal:#}");
    let run = &journal["run"];
    assert_eq!(run[0]["output"]["status"], 200, "{journal:#}");
    assert_eq!(run[1]["status"], "succeeded", "{journal:#}");
    assert_eq!(
        journal["rollbacks"][0]["status"], "succeeded",
        "{journal:#}"
    );
    lab.kubectl(&[
        "get",
        "networkpolicy",
        &format!("chaostoolkit-deny-all-{direction}"),
    ])
    .expect_code(1, "the rollback removed the policy");
    lab.wait_for_answer(Duration::from_secs(60), "the greeting again", |s, b, _| {
        s == 200 && b.contains("Greetings from provider")
    });
    journal
}

#[test]
#[ignore = "kind tier: needs the one-node kind cluster scripts/kind-test.sh brings up"]
fn kind_tier_the_network_policy_holds_on_one_node() {
    test_kit::tier::kind();
    let kubeconfig = test_kit::tier::kubeconfig();
    let lab = ClusterLab::new(
        "lab-kind-netpol-",
        Some("http://127.0.0.1:30080/invokeConsumedService"),
    )
    .borrowing_cluster();
    std::fs::copy(&kubeconfig, lab.path("kubeconfig")).expect("copy the kubeconfig");
    let nodes = network_policy::provider_is_reachable_only_by_the_consumer(&lab);
    assert_eq!(nodes, ["cascade-lab-control-plane"]);
    // deny_all_ingress, observable: the users' connections to the consumer are refused
    // while it holds; the rollback lets them through again.
    let journal = run_deny_all(&lab, "ingress");
    let run = &journal["run"];
    assert_eq!(
        (&run[2]["status"], &run[2]["output"]),
        (&Value::from("failed"), &Value::Null),
        "the consumer asked while it is cut off: no answer: {journal:#}"
    );
    let refused = run[2]["exception"].to_string();
    assert!(
        refused.contains("onnection"),
        "a connection error: {refused}"
    );
    // deny_all_egress, observable: the users reach the consumer, the consumer no longer
    // reaches the provider (nor the cluster's DNS): the `before` consumer answers 500.
    let journal = run_deny_all(&lab, "egress");
    let run = &journal["run"];
    assert_eq!(run[2]["status"], "succeeded", "{journal:#}");
    assert_eq!(
        run[2]["output"]["status"], 500,
        "the consumer answers, without the provider: {journal:#}"
    );
}
