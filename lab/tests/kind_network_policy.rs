//! The provider's NetworkPolicy on a one-node kind cluster (kind tier): the same checks
//! `lab/tests/kind.rs` makes on a cluster with workers (common::network_policy), here on
//! the cluster `scripts/kind-test.sh` brought up with `lab up --target kind` for
//! chaosk8s's tests (its kubeconfig in `CASCADE_KUBECONFIG`), so no cluster of its own
//! is made: the pod on the only node is refused, the consumer let through.

mod common;

use common::cluster::ClusterLab;
use common::network_policy;

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
}
