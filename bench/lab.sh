#!/usr/bin/env bash
# Benchmarks of the local lab (issue 4), from already-built release binaries:
#   1. `lab demo --pause 2`, the whole narrated story (target: < 15 s);
#   2. `lab up` until both services answer ready (target: < 1 s).
# Usage: bench/lab.sh [RUNS]   (default 5 runs of each; builds the release binaries first
# unless LAB_BENCH_NO_BUILD=1). Ephemeral ports and a temporary state directory are used,
# so it does not disturb a lab already running on 8080/8081.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-5}"
export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
bin="$CARGO_TARGET_DIR/release"
lab="$bin/lab"

if [ "${LAB_BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "== building release binaries (not timed)" >&2
  cargo build --release --workspace --bins >&2
fi
for name in lab provider-app consumer-app chaos-runner; do
  [ -x "$bin/$name" ] || { echo "bench/lab.sh: $bin/$name missing; run: cargo build --release --workspace --bins" >&2; exit 1; }
done

state="$(mktemp -d)"
export LAB_STATE_DIR="$state"
cleanup() { "$lab" down >/dev/null 2>&1 || true; rm -rf "$state"; }
trap cleanup EXIT

now_ms() { date +%s%3N; }

# Prints min, median and max of the numbers on stdin.
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%d %d %d\n", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

echo "== lab demo --pause 2 ($runs runs)" >&2
demo_times=()
for _ in $(seq "$runs"); do
  start=$(now_ms)
  "$lab" demo --pause 2 --provider-port 0 --consumer-port 0 >"$state/demo.out" 2>&1 \
    || { echo "lab demo failed:" >&2; tail -20 "$state/demo.out" >&2; exit 1; }
  demo_times+=($(( $(now_ms) - start )))
done

echo "== lab up to ready ($runs runs)" >&2
up_times=()
for _ in $(seq "$runs"); do
  start=$(now_ms)
  "$lab" up --provider-port 0 --consumer-port 0 >/dev/null 2>"$state/up.err" \
    || { echo "lab up failed:" >&2; cat "$state/up.err" >&2; exit 1; }
  up_times+=($(( $(now_ms) - start )))
  "$lab" down >/dev/null 2>&1
done

read -r dmin dmed dmax < <(printf '%s\n' "${demo_times[@]}" | stats)
read -r umin umed umax < <(printf '%s\n' "${up_times[@]}" | stats)
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
cat <<OUT
machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sr)
runs: $runs each; binaries: $bin (release)

| measurement | min | median | max | target |
| --- | --- | --- | --- | --- |
| \`lab demo --pause 2\` (wall) | ${dmin} ms | ${dmed} ms | ${dmax} ms | < 15000 ms |
| \`lab up\` to ready (wall) | ${umin} ms | ${umed} ms | ${umax} ms | < 1000 ms |
OUT
