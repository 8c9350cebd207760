#!/usr/bin/env bash
# Takes the kind lab down: the lab's Deployments, the cluster, the lab's images and kind's
# network (`lab down --target kind --delete-cluster`), then stops the project's Docker
# engine. The built images and caches stay for the next `make kind-up`. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
lab="${LAB:-${CARGO_TARGET_DIR:-$cache/target}/release/lab}"
. scripts/docker-env.sh
if docker_alive && [ -f "$cache/kind/env" ]; then
  . scripts/kind-env.sh
  if [ -x "$lab" ]; then
    "$lab" down --target kind --delete-cluster
  else
    kind delete cluster --name cascade-lab
  fi
fi
scripts/docker-down.sh
