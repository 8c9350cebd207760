#!/usr/bin/env bash
# The differential test (chaos-runner/tests/differential/) with many cases: random valid
# experiments run by the reference `chaos` and by chaos-runner, journals compared field
# by field. Prints the summary: cases, agreements, documented differences by kind, any
# other difference with its seed (rerun one alone: DIFF_SEED=<seed> DIFF_CASES=1).
# Cases include Python providers (standard-library functions): chaos-runner's bridge
# runs them in the reference's interpreter (the python beside CASCADE_CHAOS_BIN).
# Usage: bench/differential.sh [CASES] [SEED]   (default 2000 cases from seed 1)
# Env: CASCADE_CHAOS_BIN (the reference `chaos`; else scripts/setup-chaostoolkit.sh),
# DIFF_KEEP=<dir> (keep every case's experiment, journals and logs), DIFF_RUNNER_BIN
# (the chaos-runner to compare; default: this checkout's debug build, copied before the
# run so that another checkout sharing the target dir cannot swap it), CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
export CASCADE_CHAOS_BIN="${CASCADE_CHAOS_BIN:-$("$root/scripts/setup-chaostoolkit.sh" | tail -n 1)}"
export DIFF_CASES="${1:-2000}" DIFF_SEED="${2:-1}"
echo "== differential: $DIFF_CASES cases from seed $DIFF_SEED" >&2
if [ -z "${DIFF_RUNNER_BIN:-}" ]; then
    # Cargo links target/debug/chaos-runner only when it rebuilds the binary, and a
    # checkout sharing the target dir replaces it with its own: rebuild (a relink) and
    # copy it at once.
    touch chaos-runner/src/main.rs
    cargo build -q -p chaos-runner --bin chaos-runner
    copy="$(mktemp -d)"
    trap 'rm -rf "$copy"' EXIT
    cp "$CARGO_TARGET_DIR/debug/chaos-runner" "$copy/chaos-runner"
    export DIFF_RUNNER_BIN="$copy/chaos-runner"
fi
cargo build -q -p chaos-runner --tests
time cargo test -q -p chaos-runner --test differential -- --ignored \
  compat_tier_differential_random_experiments --nocapture
