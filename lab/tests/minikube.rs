//! The tutorial on a real minikube cluster (minikube tier: `#[ignore]`d; `make test` runs
//! it after `scripts/kind-build.sh --minikube` has built minikube and its offline node
//! image and the tier's environment is sourced): `lab up --target minikube` starts the
//! minikube profile from that image, builds and loads both images and rolls out real
//! pods; the consumer answers on the node's address and node port; the experiment kills
//! the provider and the naive consumer answers 500; `lab fix` and the same experiment
//! passes on fallback answers; the Python `chaos` with chaostoolkit-kubernetes agrees on
//! both runs; `lab down --delete-cluster` leaves no container, network, volume or image.
//!
//! One test, in order, as on kind: starting the cluster is the slow part.

mod common;

use std::time::Duration;

use common::cluster::ClusterLab;

#[test]
#[ignore = "minikube tier: needs minikube and its node image (scripts/kind-build.sh --minikube)"]
fn minikube_tier_the_cascade_and_its_fix_on_a_real_minikube_cluster() {
    test_kit::tier::minikube();
    let lab = ClusterLab::new("lab-minikube-", None);
    let minutes = |m: u64| Duration::from_secs(60 * m);

    lab.up("minikube", minutes(20));
    // The node's own address (minikube's docker network) and the Service's node port,
    // as the seed's get-consumer-service-address.sh finds them.
    let node_ip = lab.kubectl(&[
        "get",
        "node",
        "minikube",
        "-o",
        "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    node_ip.expect_code(0, "kubectl get node minikube");
    assert_eq!(
        lab.url(),
        format!(
            "http://{}:30080/invokeConsumedService",
            node_ip.stdout.trim()
        ),
        "lab up writes the node's address into the experiment"
    );
    let runtime = lab.kubectl(&[
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.spec.nodeName} {.status.containerStatuses[0].containerID}{\"\\n\"}{end}",
    ]);
    runtime.expect_code(0, "kubectl get pods");
    for line in runtime.stdout.lines() {
        assert!(
            line.starts_with("minikube containerd://"),
            "a real pod on the minikube node: {line}"
        );
    }

    lab.cascade_then_fix();

    // The Python Chaos Toolkit with chaostoolkit-kubernetes reaches the same outcomes.
    let chaos = test_kit::tier::chaos_bin();
    lab.switch_and_restore("break");
    lab.experiment_ends(&chaos.to_string_lossy(), "python-before.json", true);
    lab.switch_and_restore("fix");
    lab.experiment_ends(&chaos.to_string_lossy(), "python-after.json", false);

    // Down: the profile, its container, network and volume, and the lab's images go.
    lab.lab(&["down", "--delete-cluster"], minutes(3))
        .expect_code(0, "lab down --delete-cluster");
    let label = "label=name.minikube.sigs.k8s.io=minikube";
    assert_eq!(
        lab.docker(&["ps", "-aq", "--filter", label]),
        "",
        "node container left"
    );
    assert_eq!(
        lab.docker(&["network", "ls", "-q", "--filter", "name=^minikube$"]),
        "",
        "minikube's network left"
    );
    assert_eq!(
        lab.docker(&["volume", "ls", "-q", "--filter", "name=^minikube$"]),
        "",
        "minikube's volume left"
    );
    // (The node's address is not probed again: with minikube's network gone, a request
    // to it would leave this machine.)
    lab.assert_lab_images_gone();
}
