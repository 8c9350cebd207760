#!/usr/bin/env bash
# `lab traffic` (issue 15): achieved vs requested rate and the generator's own CPU cost at
# 50, 500 and 5,000 requests/s, 5 s each, against a local lab in after mode with its
# provider up (everything on 127.0.0.1, bounded: 25,000 requests at most per run).
# Usage: bench/traffic.sh [BIN_DIR]   (default: $CARGO_TARGET_DIR/release, which must hold
# lab, provider-app and consumer-app built with --release). Ephemeral ports and a
# temporary state directory, so a lab on 8080/8081 is not disturbed.
set -euo pipefail
cd "$(dirname "$0")/.."

export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
bin="${1:-${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}/release}"
lab="$bin/lab"
for program in lab provider-app consumer-app; do
  [ -x "$bin/$program" ] || { echo "$bin/$program is missing: cargo build --release -p $program" >&2; exit 1; }
done

LAB_STATE_DIR="$(mktemp -d)"
export LAB_STATE_DIR LAB_BIN_DIR="$bin"
trap '"$lab" down >/dev/null 2>&1 || true; rm -rf "$LAB_STATE_DIR"' EXIT
"$lab" up --mode after --provider-port 0 --consumer-port 0 >/dev/null 2>&1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in 50 500 5000; do
  echo "== $rate requests/s for 5 s"
  /usr/bin/time -f "generator: user %U s, sys %S s, max RSS %M KiB, wall %e s" \
    "$lab" traffic --rate "$rate" --duration 5 --out "$LAB_STATE_DIR/traffic-$rate.jsonl" 2>&1 |
    grep -vE "^lab:|^[╭├╰]"
done
