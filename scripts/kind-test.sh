#!/usr/bin/env bash
# The kind tier alone (make kind-test): real kind clusters with real containers, on a
# machine with no container registry. Builds what is missing (scripts/kind-build.sh),
# then, on two clusters it deletes at the end:
#   1. on a one-node cluster: chaosk8s's cluster tests on real pods (the provider image
#      as the pods' image), then the provider's NetworkPolicy (lab/tests/kind_network_policy.rs);
#   2. on a control plane and two workers: a challenge failed then passed; the experiment
#      run from inside the cluster (lab cluster-run); the tutorial's Kubernetes page
#      (doc-tests);
#   3. on the same cluster, lab's kind test: the NetworkPolicy from every node, the
#      tutorial's failure and fix, chaos-runner and the Python chaos, replicas and nodes
#      under fire, and the cluster deleted.
# Env: CASCADE_CHAOS_BIN (the Python chaos; set up here when missing),
#      CASCADE_KIND_ENV (a node image tried beside the current one: scripts/kind-build.sh),
#      the tests fail (not skip) when a piece they need is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
started=$(date +%s)
say() { echo "== kind tier [$(($(date +%s) - started))s]: $*"; }

say "building the offline kind pieces (seconds when warm)"
scripts/kind-build.sh >/dev/null
# shellcheck disable=SC1090,SC1091
. "${CASCADE_KIND_ENV:-$CASCADE_CACHE/kind/env}"
export CASCADE_KIND=1
if [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  CASCADE_CHAOS_BIN=$(scripts/setup-chaostoolkit.sh | tail -n 1)
  export CASCADE_CHAOS_BIN
fi
export CASCADE_CHAOS_K8S_PYTHON="${CASCADE_CHAOS_K8S_PYTHON:-$(dirname "$CASCADE_CHAOS_BIN")/python}"

# Every kind node's kubelet, containerd and systemd take inotify instances from the
# host's per-user limit (128 by default on Debian); with several clusters on the machine
# a joining worker's kubelet then dies with "inotify_init: too many open files". kind's
# known-issues page gives these values.
if [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 512 ]; then
  say "raising fs.inotify.max_user_instances to 512 (kind's known issue with several nodes)"
  sysctl -qw fs.inotify.max_user_instances=512 fs.inotify.max_user_watches=524288 \
    || echo "kind tier: could not raise the inotify limits (not root?); workers may fail to join" >&2
fi

# A cluster left by an interrupted run would be reused by `lab up`; start clean.
if kind get clusters 2>/dev/null | grep -qx cascade-lab; then
  say "deleting a cascade-lab cluster left from an earlier run"
  kind delete cluster --name cascade-lab >/dev/null
fi

say "cargo build (the tests drive the workspace's binaries)"
cargo build --workspace --bins
lab="$CARGO_TARGET_DIR/debug/lab"

work=$(mktemp -d)
cleanup() {
  KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" "$lab" down --target kind --delete-cluster >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say "1/3 chaosk8s functions and the NetworkPolicy on real pods (one node)"
mkdir -p "$work/state"
cp experiment.json "$work/experiment.json"
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" \
  "$lab" up --target kind --experiment "$work/experiment.json"
# The lab's own Deployments stay; each test works in a namespace of its own.
# `--workspace --test NAME`, not `-p`: the workspace's features, as the build above, so
# nothing is rebuilt (`-p chaosk8s` rebuilt kube and rustls: ~25 s each time).
CASCADE_KUBECONFIG="$work/kubeconfig" CASCADE_TEST_POD_IMAGE=cascade-lab/provider-app:dev \
  cargo test --workspace --no-fail-fast --test cluster --test 'python_parity*' -- --ignored kubernetes_tier kind_tier
CASCADE_KUBECONFIG="$work/kubeconfig" \
  cargo test --workspace --test kind_network_policy -- --ignored kind_tier --nocapture
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" "$lab" down --delete-cluster
trap - EXIT
rm -rf "$work"

# Steps 2 and 3 share one cluster of a control plane and two workers (a new cluster is
# most of a test's time): each test brings its lab up on it and takes it down again
# (CASCADE_KIND_SHARED_CLUSTER=1); lab's kind test, last, deletes it and checks that
# nothing of the lab is left.
say "2/3 a cluster with two workers, shared by the next tests"
work=$(mktemp -d)
trap cleanup EXIT
mkdir -p "$work/state"
cp experiment.json "$work/experiment.json"
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" \
  "$lab" up --target kind --workers 2 --experiment "$work/experiment.json"
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" "$lab" down
export CASCADE_KIND_SHARED_CLUSTER=1

say "2/3 a challenge failed then passed (lab consumer, lab challenge on kind)"
cargo test --workspace --test kind_challenges -- --ignored kind_tier --nocapture
say "2/3 experiments from inside the cluster (lab cluster-run: a Job, its Role)"
cargo test --workspace --test in_cluster -- --ignored kind_tier --nocapture
say "2/3 the tutorial's Kubernetes page on kind (doc-tests)"
cargo test --workspace --test tutorial -- --ignored kind_tier --nocapture

unset CASCADE_KIND_SHARED_CLUSTER
say "3/3 the NetworkPolicy on every node, the tutorial's failure and fix, nodes under fire (lab; deletes the cluster)"
cargo test --workspace --test kind -- --ignored kind_tier --nocapture
trap - EXIT
rm -rf "$work"

say "done"
