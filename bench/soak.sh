#!/usr/bin/env bash
# Soak (issue 13): the consumer under a fixed request rate for minutes while the provider
# is healthy, killed, hanging, and back. Per phase: answers, non-200, errors, p50/p99; every
# few seconds: the consumer's RSS, open fds and CLOSE_WAIT sockets, so a leak shows as a
# line that keeps rising. Everything on 127.0.0.1, bounded by PHASE_SECS x 4.
# Usage: bench/soak.sh [PHASE_SECS] [RATE] [MODE]   (defaults 60, 200, on; MODE on|off)
# Env: OHA (the oha binary; see bench/services.sh), CARGO_TARGET_DIR.
# Prints a Markdown report.
set -euo pipefail

PHASE_SECS="${1:-60}"
RATE="${2:-200}"
MODE="${3:-on}"
SAMPLE_SECS=5
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
BIN="$CARGO_TARGET_DIR/release"
OHA="${OHA:-$(command -v oha || echo "$CACHE/tools/bin/oha")}"
WORK="$(mktemp -d)"
PIDS=()

case "$MODE" in on | off) ;; *) echo "error: MODE must be on or off, not '$MODE'" >&2; exit 2 ;; esac
if ! [[ $PHASE_SECS =~ ^[0-9]{1,4}$ ]] || (( PHASE_SECS < 5 || PHASE_SECS > 3600 )); then
  echo "error: PHASE_SECS must be 5..3600, not '$PHASE_SECS'" >&2; exit 2
fi
if ! [[ $RATE =~ ^[0-9]{1,4}$ ]] || (( RATE < 1 || RATE > 5000 )); then
  echo "error: RATE must be 1..5000 req/s, not '$RATE'" >&2; exit 2
fi
[ -x "$OHA" ] || { echo "error: oha not found at $OHA; bench/services.sh installs it" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 not found (it reads oha's JSON)" >&2; exit 1; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "building release binaries..." >&2
(cd "$ROOT" && cargo build --release -q -p provider-app -p consumer-app)

# start NAME BIND ARGS... : starts a service, waits for /health/ready = 200, sets
# STARTED_PID and STARTED_ADDR.
start() {
  local name="$1" bind="$2" bin="$BIN/$1"; shift 2
  local addr_file="$WORK/$name.addr"
  rm -f "$addr_file"
  "$bin" --bind "$bind" --addr-file "$addr_file" "$@" >>"$WORK/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for _ in $(seq 1 2500); do
    if [ -s "$addr_file" ]; then
      STARTED_ADDR=$(tr -d '\n' <"$addr_file")
      if curl -fs -o /dev/null "http://$STARTED_ADDR/health/live"; then return 0; fi
    fi
    sleep 0.002
  done
  echo "error: $name did not start; log:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

start provider-app 127.0.0.1:0 --instance-name soak-provider
PROVIDER_PID=$STARTED_PID; PROVIDER_ADDR=$STARTED_ADDR
start consumer-app 127.0.0.1:0 --provider-url "http://$PROVIDER_ADDR/" --resilience "$MODE"
CONSUMER_PID=$STARTED_PID; CONSUMER_ADDR=$STARTED_ADDR
URL="http://$CONSUMER_ADDR/invokeConsumedService"

restart_provider() {
  kill -KILL "$PROVIDER_PID" 2>/dev/null || true
  wait "$PROVIDER_PID" 2>/dev/null || true
  start provider-app "$PROVIDER_ADDR" --instance-name soak-provider "$@"
  PROVIDER_PID=$STARTED_PID
}

# One sample line: seconds since start, phase, consumer RSS (kB), fds, CLOSE_WAIT sockets.
SAMPLES="$WORK/samples.tsv"
T0=$SECONDS
PHASE_FILE="$WORK/phase"
echo healthy >"$PHASE_FILE"
sample() {
  local rss fds cw
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$CONSUMER_PID/status")
  fds=$(find "/proc/$CONSUMER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
  cw=$(ss -Htanp state close-wait 2>/dev/null | grep -c "pid=$CONSUMER_PID," || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$((SECONDS - T0))" "$(cat "$PHASE_FILE")" "$rss" "$fds" "$cw" >>"$SAMPLES"
}
( while kill -0 "$CONSUMER_PID" 2>/dev/null; do sample; sleep "$SAMPLE_SECS"; done ) &
SAMPLER=$!
PIDS+=("$SAMPLER")

# phase NAME : one oha run of PHASE_SECS at RATE (32 connections, 5 s per-request timeout,
# latency from when each request was due); one Markdown row.
ROWS=()
phase() {
  local name="$1" json="$WORK/oha-$1.json"
  echo "$name" >"$PHASE_FILE"
  "$OHA" -z "${PHASE_SECS}s" -c 32 -q "$RATE" -t 5s --latency-correction --no-tui \
    --output-format json "$URL" >"$json"
  ROWS+=("$(python3 - "$json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1:]
data = json.load(open(path))
pct = data["latencyPercentiles"]
ms = lambda key: "-" if pct.get(key) is None else f"{pct[key] * 1000:.1f} ms"
codes = data["statusCodeDistribution"]
non200 = sum(n for code, n in codes.items() if code != "200")
errors = ", ".join(f"{k}: {v}" for k, v in data.get("errorDistribution", {}).items()) or "none"
print(f"| {name} | {sum(codes.values())} | {data['summary']['requestsPerSec']:.0f} | {non200} | {errors} | {ms('p50')} | {ms('p99')} |")
PY
)")
}

echo "soak: $MODE consumer, $RATE req/s, 4 phases of $PHASE_SECS s" >&2
phase healthy
( sleep 1; kill -KILL "$PROVIDER_PID" ) &
phase outage
restart_provider --fault-hang
phase hang
restart_provider
phase recovered
sample
kill "$SAMPLER" 2>/dev/null || true

echo "## Soak: consumer resilience $MODE, $RATE req/s, provider healthy / killed / hanging / back, $PHASE_SECS s each"
echo
echo "- nproc: $(nproc); kernel $(uname -r); $("$OHA" --version) -c 32 -q $RATE -t 5s --latency-correction, load generator on the same cores"
echo "- outage: the provider is SIGKILLed 1 s into the phase; hang: the provider restarted with \`--fault-hang\` (accepts, never answers)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| phase | answers | achieved req/s | non-200 | errors (oha) | p50 | p99 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
echo "Consumer process, sampled every ${SAMPLE_SECS} s (the series: SOAK_SERIES=1):"
echo
echo "| phase | samples | RSS first -> last (max), kB | open fds first -> last (max) | CLOSE_WAIT max |"
echo "| --- | --- | --- | --- | --- |"
awk -F'\t' '
  !($2 in n) { order[++k] = $2; rss0[$2] = $3; fd0[$2] = $4 }
  { n[$2]++; rss1[$2] = $3; fd1[$2] = $4
    if ($3 > rssmax[$2]) rssmax[$2] = $3; if ($4 > fdmax[$2]) fdmax[$2] = $4
    if ($5 > cwmax[$2]) cwmax[$2] = $5 }
  END { for (i = 1; i <= k; i++) { p = order[i]
    printf "| %s | %d | %s -> %s (%s) | %s -> %s (%s) | %d |\n", p, n[p], rss0[p], rss1[p], rssmax[p], fd0[p], fd1[p], fdmax[p], cwmax[p] } }
' "$SAMPLES"
if [ "${SOAK_SERIES:-0}" = 1 ]; then
  echo
  echo "| t (s) | phase | RSS (kB) | fds | CLOSE_WAIT |"
  echo "| --- | --- | --- | --- | --- |"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$SAMPLES"
fi
