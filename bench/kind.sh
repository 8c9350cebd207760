#!/usr/bin/env bash
# Benchmarks of the lab on a real kind cluster (issue 10), with the offline kind setup
# (scripts/kind-build.sh; built first if missing, not timed):
#   1. `lab up --target kind` with no cluster (create + image builds from Docker's layer
#      cache + load + rollout), then again with everything there (warm);
#   2. `kubectl delete deployment my-provider-app` until the naive consumer answers 500;
#   3. `lab fix` (the after overlay's rollout), and how long after its start the consumer
#      answers 200 again (fallback, provider still gone);
#   4. image sizes, and the services' RSS inside their pods (VmRSS, idle and after 2,000
#      requests), next to their Deployments' memory requests and limits.
# Usage: bench/kind.sh   (uses the release lab; builds it unless LAB_BENCH_NO_BUILD=1).
# Everything runs against 127.0.0.1:30080 and the cluster's API on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASCADE_CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CASCADE_CACHE/target}"
lab="$CARGO_TARGET_DIR/release/lab"
url=http://127.0.0.1:30080/invokeConsumedService

if [ "${LAB_BENCH_NO_BUILD:-0}" != 1 ]; then
  echo "== building the release lab and the kind pieces (not timed)" >&2
  cargo build --release -p lab >&2
fi
scripts/kind-build.sh >/dev/null
# shellcheck disable=SC1091
. "$CASCADE_CACHE/kind/env"
work=$(mktemp -d)
export KUBECONFIG="$work/kubeconfig" LAB_STATE_DIR="$work/state"
mkdir -p "$LAB_STATE_DIR"
cp experiment.json "$work/experiment.json"
cleanup() { "$lab" down --target kind --delete-cluster >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
kind delete cluster --name cascade-lab >/dev/null 2>&1 || true

now_ms() { date +%s%3N; }
status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true; }
# until_status CODE LIMIT_S: milliseconds until the consumer answers CODE.
until_status() {
  local start deadline
  start=$(now_ms); deadline=$((start + $2 * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    [ "$(status)" = "$1" ] && { echo $(($(now_ms) - start)); return; }
    sleep 0.05
  done
  echo "timeout"
}
timed() { local s; s=$(now_ms); "$@" >/dev/null; echo $(($(now_ms) - s)); }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lab up --target kind, no cluster: $(timed "$lab" up --target kind --experiment "$work/experiment.json") ms"
echo "lab up --target kind, warm:       $(timed "$lab" up --target kind) ms"
echo "first answer: $(status)"

node=cascade-lab-control-plane
rss() { # process name -> VmRSS in KiB, from the node's view of the pod's process
  docker exec "$node" sh -c "grep VmRSS /proc/\$(pgrep -x $1 | head -n1)/status" | awk '{ print $2 }'
}
echo "idle RSS: provider $(rss provider-app) KiB, consumer $(rss consumer-app) KiB"
for _ in $(seq 1 2000); do curl -s -o /dev/null "$url"; done
echo "RSS after 2000 requests: provider $(rss provider-app) KiB, consumer $(rss consumer-app) KiB"
for d in my-provider-app my-consumer-app; do
  echo "$d resources: $(kubectl get deployment "$d" -o jsonpath='{.spec.template.spec.containers[0].resources}')"
done
for image in cascade-lab/provider-app:dev cascade-lab/consumer-app:dev; do
  echo "image $image: $(docker image inspect -f '{{ .Size }}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
done
echo "node image $LAB_KIND_IMAGE: $(docker image inspect -f '{{ .Size }}' "$LAB_KIND_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

kubectl delete deployment my-provider-app --wait=false >/dev/null
echo "kubectl delete deployment my-provider-app -> 500: $(until_status 500 60) ms"
start=$(now_ms)
"$lab" fix >/dev/null &
fix=$!
echo "lab fix started -> 200 (fallback): $(until_status 200 240) ms"
wait "$fix"
echo "lab fix (rollout awaited): $(($(now_ms) - start)) ms"
echo "node container memory: $(docker stats --no-stream --format '{{ .MemUsage }}' "$node")"
start=$(now_ms)
"$lab" down --delete-cluster >/dev/null
echo "lab down --delete-cluster: $(($(now_ms) - start)) ms"
