#!/usr/bin/env bash
# Benchmark of the two demo services (issue 2), release build, everything on 127.0.0.1:
#   1. throughput and p50/p99 through consumer -> provider, provider healthy
#      (resilience off and on);
#   2. the same with the provider stopped, resilience on (fallback path, circuit open);
#   3. start-to-ready time of each service and peak RSS (VmHWM) under load.
# Load generators: wrk (Debian package; installed if missing and we are root) for
# saturation throughput, and oha (crates.io, pinned; installed into the cache if missing)
# for latency at a fixed request rate, corrected for coordinated omission: a saturating
# closed loop measures queueing in front of the service as much as the service.
# Usage: bench/services.sh [DURATION_SECS]   (default 10). Prints a Markdown report.
# Env: BENCH_CONNECTIONS (wrk -c levels, default "16 64"), BENCH_THREADS (wrk -t, default 2),
# BENCH_RATES (oha -q levels in req/s, default "5000 20000"), CARGO_TARGET_DIR (where the
# release binaries go), OHA (the oha binary).
set -euo pipefail

DURATION="${1:-10}"
CONNECTION_LEVELS="${BENCH_CONNECTIONS:-16 64}"
THREADS="${BENCH_THREADS:-2}"
RATES="${BENCH_RATES:-5000 20000}"
OHA_VERSION=1.16.0
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
export CARGO_TARGET_DIR="$TARGET_DIR"
BIN="$TARGET_DIR/release"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    echo "error: wrk not found; install it (e.g. apt-get install wrk)" >&2
    exit 1
  fi
fi
command -v curl >/dev/null || { echo "error: curl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 not found (it reads oha's JSON)" >&2; exit 1; }
OHA="${OHA:-$(command -v oha || echo "${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/tools/bin/oha")}"
if [ ! -x "$OHA" ]; then
  echo "installing oha $OHA_VERSION into $(dirname "$(dirname "$OHA")") (once; ~4 min on 2 cores)..." >&2
  cargo install -q --locked oha --version "$OHA_VERSION" --root "$(dirname "$(dirname "$OHA")")" \
    --target-dir "${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/tools-target"
fi

echo "building release binaries..." >&2
(cd "$ROOT" && cargo build --release -q -p provider-app -p consumer-app)

# start NAME BIN ARGS... : starts a service on 127.0.0.1:0, waits for /health/ready = 200,
# sets STARTED_PID and STARTED_ADDR.
start() {
  local name="$1" bin="$2"; shift 2
  local addr_file="$WORK/$name.addr"
  rm -f "$addr_file"
  "$bin" --bind 127.0.0.1:0 --addr-file "$addr_file" "$@" >"$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 2000); do
    if [ -s "$addr_file" ]; then
      STARTED_ADDR=$(tr -d '\n' <"$addr_file")
      if curl -fs -o /dev/null "http://$STARTED_ADDR/health/ready"; then
        return 0
      fi
    fi
    sleep 0.002
  done
  echo "error: $name did not become ready; log:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# load CONNECTIONS URL LABEL : runs wrk and prints one Markdown table row.
load() {
  local connections="$1" url="$2" label="$3 (c=$1)" out
  out=$(wrk -t"$THREADS" -c"$connections" -d"${DURATION}s" --latency "$url")
  echo "$out" >"$WORK/wrk-$(echo "$label" | tr -c 'a-z0-9' '_').txt"
  local rps p50 p99 non2xx errors
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
  errors=$(awk '/Socket errors/ {print $0}' <<<"$out" | sed 's/^ *Socket errors: //')
  local total; total=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "| $label | $total | $rps | $p50 | $p99 | ${non2xx:-0} | ${errors:-none} |"
}

# at_rate RATE URL LABEL : oha at a fixed rate (16 connections, latency corrected), one
# Markdown table row. "non-200" counts answers that were not 200; requests still in
# flight when the run's time is up are reported by oha as errors and listed apart.
at_rate() {
  local rate="$1" url="$2" label="$3" json="$WORK/oha-$1-$RANDOM.json"
  "$OHA" -z "${DURATION}s" -c 16 -q "$rate" --latency-correction --no-tui --output-format json "$url" >"$json"
  python3 - "$json" "$label" "$rate" <<'PY'
import json, sys
path, label, rate = sys.argv[1:]
data = json.load(open(path))
pct = data["latencyPercentiles"]
ms = lambda key: f"{pct[key] * 1000:.3f} ms"
codes = data["statusCodeDistribution"]
non200 = sum(n for code, n in codes.items() if code != "200")
errors = ", ".join(f"{k}: {v}" for k, v in data.get("errorDistribution", {}).items()) or "none"
print(f"| {label} | {rate} | {data['summary']['requestsPerSec']:.0f} | {ms('p50')} | {ms('p99')} | {ms('p99.9')} | {sum(codes.values())} | {non200} | {errors} |")
PY
}

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "- kernel: $(uname -r); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); load generator on the same cores"
echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine competes for the same 2 cores)"
echo "- wrk -t$THREADS -c{$CONNECTION_LEVELS} -d${DURATION}s --latency; $("$OHA" --version) -z ${DURATION}s -c 16 -q {$RATES} --latency-correction; release build (no LTO)"
echo

# --- Start-to-ready: 5 fresh starts of each, median. Timed with bash builtins only
# (EPOCHREALTIME, /dev/tcp) so that forking curl/sleep does not inflate the numbers. ---
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ready_ms BIN ARGS... : ms from spawn until GET /health/ready answers 200.
ready_ms() {
  local addr_file="$WORK/probe.addr" addr status t0 deadline pid
  rm -f "$addr_file"
  t0=${EPOCHREALTIME//[.,]/}; deadline=$(( t0 + 10000000 ))
  "$@" --bind 127.0.0.1:0 --addr-file "$addr_file" >/dev/null 2>&1 &
  pid=$!
  while (( ${EPOCHREALTIME//[.,]/} < deadline )); do
    [[ -s $addr_file ]] || continue
    read -r addr <"$addr_file"
    exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" 2>/dev/null || continue
    printf 'GET /health/ready HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3
    status=""; read -r -t 2 _ status _ <&3 || true
    exec 3<&-
    if [[ $status == 200 ]]; then
      echo $(( (${EPOCHREALTIME//[.,]/} - t0) / 1000 ))
      kill "$pid"; wait "$pid" 2>/dev/null || true
      return 0
    fi
  done
  kill "$pid" 2>/dev/null || true
  echo "error: $1 not ready within 10 s" >&2
  return 1
}
ready_samples() {
  for _ in 1 2 3 4 5; do ready_ms "$@"; done
}
PROVIDER_SAMPLES=$(ready_samples "$BIN/provider-app" | tr '\n' ' ')
CONSUMER_SAMPLES=$(ready_samples "$BIN/consumer-app" --resilience on | tr '\n' ' ')
PROVIDER_READY=$(tr ' ' '\n' <<<"$PROVIDER_SAMPLES" | grep . | median)
CONSUMER_READY=$(tr ' ' '\n' <<<"$CONSUMER_SAMPLES" | grep . | median)

start provider "$BIN/provider-app" --instance-name bench-provider
PROVIDER_PID=$STARTED_PID; PROVIDER_ADDR=$STARTED_ADDR
start consumer-off "$BIN/consumer-app" --provider-url "http://$PROVIDER_ADDR/" --resilience off
OFF_PID=$STARTED_PID; OFF_ADDR=$STARTED_ADDR
start consumer-on "$BIN/consumer-app" --provider-url "http://$PROVIDER_ADDR/" --resilience on
ON_PID=$STARTED_PID; ON_ADDR=$STARTED_ADDR

echo "## Load"
echo
echo "| scenario | requests | req/s | p50 | p99 | non-2xx | socket errors |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for c in $CONNECTION_LEVELS; do
  load "$c" "http://$PROVIDER_ADDR/" "provider alone, GET /"
  load "$c" "http://$OFF_ADDR/invokeConsumedService" "consumer(off) -> provider, healthy"
  load "$c" "http://$ON_ADDR/invokeConsumedService" "consumer(on) -> provider, healthy"
done
RATE_ROWS=()
for rate in $RATES; do
  RATE_ROWS+=("$(at_rate "$rate" "http://$ON_ADDR/invokeConsumedService" "consumer(on) -> provider, healthy")")
done
PROVIDER_HWM=$(hwm_kb "$PROVIDER_PID"); OFF_HWM=$(hwm_kb "$OFF_PID")

# --- Provider stopped, resilience on: open the circuit, then load the fallback path ---
kill -TERM "$PROVIDER_PID"; wait "$PROVIDER_PID" 2>/dev/null || true
for _ in $(seq 1 10); do curl -s -o /dev/null "http://$ON_ADDR/invokeConsumedService"; done
CIRCUIT=$(curl -s "http://$ON_ADDR/health/ready")
for c in $CONNECTION_LEVELS; do
  load "$c" "http://$ON_ADDR/invokeConsumedService" "consumer(on), provider stopped (fallback)"
done
for rate in $RATES; do
  RATE_ROWS+=("$(at_rate "$rate" "http://$ON_ADDR/invokeConsumedService" "consumer(on), provider stopped (fallback)")")
done
ON_HWM_AFTER=$(hwm_kb "$ON_PID")
FALLBACKS=$(curl -s "http://$ON_ADDR/metrics" | grep '^consumer_fallbacks_total' | tr '\n' ' ')

echo
echo "Readiness before the fallback run: \`$CIRCUIT\`"
echo
echo "Fallback counters after it: \`$FALLBACKS\`"
echo
echo "## Latency at a fixed rate"
echo
echo "oha, 16 connections, ${DURATION} s per row, latency measured from when each request was due."
echo
echo "| scenario | target req/s | achieved req/s | p50 | p99 | p99.9 | answers | non-200 | errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${RATE_ROWS[@]}"
echo
echo "## Start-to-ready and peak RSS"
echo
echo "Start-to-ready = spawn -> first 200 on /health/ready (busy-polled with bash builtins), 5 fresh starts, median."
echo
echo "| service | start-to-ready median (samples, ms) | peak RSS (VmHWM) after its load runs |"
echo "| --- | --- | --- |"
echo "| provider-app | ${PROVIDER_READY} ms (${PROVIDER_SAMPLES% }) | $((PROVIDER_HWM / 1024)) MiB ($PROVIDER_HWM kB) |"
echo "| consumer-app | ${CONSUMER_READY} ms (${CONSUMER_SAMPLES% }) | off: $((OFF_HWM / 1024)) MiB ($OFF_HWM kB); on: $((ON_HWM_AFTER / 1024)) MiB ($ON_HWM_AFTER kB) |"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
