#!/usr/bin/env bash
# The lab on a real kind cluster, on a machine with no container registry: builds what
# is missing (scripts/kind-build.sh; seconds when warm), then `lab up --target kind`
# (creates the cluster, builds and loads the images, rolls out, writes experiment.json).
# Arguments go to `lab up`. Then, in your shell: . scripts/kind-env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
lab="${LAB:-${CARGO_TARGET_DIR:-$cache/target}/release/lab}"
[ -x "$lab" ] || { echo "kind-up: $lab is missing (make release)" >&2; exit 1; }

scripts/kind-build.sh >/dev/null
. scripts/kind-env.sh
"$lab" up --target kind "$@"
echo "kind-up: for the commands of docs/tutorial/06-kubernetes.md, in your shell: . scripts/kind-env.sh"
