#!/usr/bin/env bash
# Builds what `make demo` runs, and only that: lab and chaos-runner without their
# Kubernetes support (the demo runs on local processes; no kube-rs), the provider and
# the consumer, in the `demo` profile (Cargo.toml: optimised for build time). Prints the
# folder holding them on the last line. Cargo shows its progress (crates done / total) on
# a terminal and one line per crate otherwise.
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1

export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
dir="$CARGO_TARGET_DIR/demo"
programs=(lab chaos-runner provider-app consumer-app)

missing=0
for program in "${programs[@]}"; do
  [ -x "$dir/$program" ] || missing=1
done
if [ "$missing" = 1 ]; then
  # Measured on 2 cores (bench/RESULTS.md, "make demo from a fresh clone").
  echo "== building the demo's four programs: about 3 minutes the first time on 2 cores (seconds after that)" >&2
fi
started=$(date +%s)
packages=()
for program in "${programs[@]}"; do packages+=(-p "$program"); done
cargo build --profile demo --no-default-features "${packages[@]}" >&2
if [ "$missing" = 1 ]; then
  echo "== built in $(($(date +%s) - started)) s" >&2
fi
echo "$dir"
