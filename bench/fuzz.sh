#!/usr/bin/env bash
# The runner's property tests (parsing, validation, the numbers that become durations)
# with many more cases than CI runs (256 each). Usage: bench/fuzz.sh [CASES] (default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
cases="${1:-20000}"
echo "== chaos-runner property tests, $cases cases each" >&2
time PROPTEST_CASES="$cases" cargo test -q -p chaos-runner --test validation -- \
  validation_never_panics parsing_never_panics numbers_that_become_durations_are_checked
