#!/usr/bin/env bash
# The minikube tier alone (make minikube-test): a real minikube cluster (docker driver,
# containerd) on a machine with no container registry. Builds what is missing
# (scripts/kind-build.sh --minikube: minikube v1.37 and its node image, on the kind
# tier's pieces), then, each on a minikube profile of its own that it deletes at the end:
#   1. lab's minikube test: the tutorial's failure and fix with chaos-runner and the
#      Python chaos, and `lab down --delete-cluster` leaving nothing;
#   2. the tutorial's Kubernetes page, run against minikube (doc-tests).
# Env: CASCADE_CHAOS_BIN (the Python chaos; set up here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
started=$(date +%s)
say() { echo "== minikube tier [$(($(date +%s) - started))s]: $*"; }

say "building minikube and its node image (seconds when warm)"
scripts/kind-build.sh --minikube >/dev/null
# shellcheck disable=SC1091
. "$CASCADE_CACHE/kind/env"
export CASCADE_MINIKUBE=1
if [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  CASCADE_CHAOS_BIN=$(scripts/setup-chaostoolkit.sh | tail -n 1)
  export CASCADE_CHAOS_BIN
fi
export CASCADE_CHAOS_K8S_PYTHON="${CASCADE_CHAOS_K8S_PYTHON:-$(dirname "$CASCADE_CHAOS_BIN")/python}"

# A profile left by an interrupted run would be reused by `lab up`; start clean.
if "$MINIKUBE_BIN" profile list -o json 2>/dev/null | grep -q '"Name":"minikube"'; then
  say "deleting a minikube profile left from an earlier run"
  "$MINIKUBE_BIN" delete >/dev/null
fi

say "cargo build (the tests drive the workspace's binaries)"
cargo build --workspace --bins

say "1/2 the tutorial's failure and fix on minikube (lab)"
cargo test --workspace --test minikube -- --ignored minikube_tier --nocapture

say "2/2 the tutorial's Kubernetes page on minikube (doc-tests)"
cargo test --workspace --test tutorial -- --ignored minikube_tier --nocapture
say "passed"
