#!/usr/bin/env bash
# The kind tier alone (make kind-test): real kind clusters with real containers, on a
# machine with no container registry. Builds what is missing (scripts/kind-build.sh),
# then, each on a cluster of its own that it deletes at the end:
#   1. chaosk8s's cluster tests on real pods (the provider image as the pods' image);
#   2. lab's kind test: the tutorial's failure and fix, chaos-runner and the Python chaos;
#      then the same experiment run from inside the cluster (lab cluster-run);
#   3. the tutorial's Kubernetes page, run against kind (doc-tests).
# Env: CASCADE_CHAOS_BIN (the Python chaos; set up here when missing),
#      the tests fail (not skip) when a piece they need is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
started=$(date +%s)
say() { echo "== kind tier [$(($(date +%s) - started))s]: $*"; }

say "building the offline kind pieces (seconds when warm)"
scripts/kind-build.sh >/dev/null
# shellcheck disable=SC1091
. "$CASCADE_CACHE/kind/env"
export CASCADE_KIND=1
if [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  CASCADE_CHAOS_BIN=$(scripts/setup-chaostoolkit.sh | tail -n 1)
  export CASCADE_CHAOS_BIN
fi
export CASCADE_CHAOS_K8S_PYTHON="${CASCADE_CHAOS_K8S_PYTHON:-$(dirname "$CASCADE_CHAOS_BIN")/python}"

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
say "1/3 chaosk8s functions on real pods"
mkdir -p "$work/state"
cp experiment.json "$work/experiment.json"
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" \
  "$lab" up --target kind --experiment "$work/experiment.json"
# The lab's own Deployments stay; each test works in a namespace of its own.
CASCADE_KUBECONFIG="$work/kubeconfig" CASCADE_TEST_POD_IMAGE=cascade-lab/provider-app:dev \
  cargo test -p chaosk8s --no-fail-fast -- --ignored kubernetes_tier kind_tier
KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state" "$lab" down --delete-cluster
trap - EXIT
rm -rf "$work"

say "2/3 the tutorial's failure and fix on kind (lab)"
cargo test -p lab --test kind -- --ignored kind_tier --nocapture
# A challenge failed then passed on a cluster of its own (lab consumer/challenge on kind).
cargo test -p lab --test kind_challenges -- --ignored kind_tier --nocapture
say "2/3 (b) experiments from inside the cluster (lab cluster-run: a Job, its Role)"
cargo test -p lab --test in_cluster -- --ignored kind_tier --nocapture

say "3/3 the tutorial's Kubernetes page on kind (doc-tests)"
cargo test -p doc-tests --test tutorial -- --ignored kind_tier --nocapture

say "done"
