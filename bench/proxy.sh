#!/usr/bin/env bash
# Benchmark of the fault proxy against the real Toxiproxy server v2.5.0 (issue 19 §2),
# release build, everything on 127.0.0.1, the same load generator for all in the same run:
#   1. no toxic: throughput and latency (p50, p99) of GET / on provider-app direct, through
#      Toxiproxy and through fault-proxy; ROUNDS rounds, the three targets interleaved in
#      each round so that drift in the machine's load hits them alike;
#   2. peak RSS (VmHWM from /proc/PID/status) of each proxy after all its load;
#   3. the latency toxic's accuracy: 100 ms requested (downstream, toxicity 1) vs the
#      measured p50 and p99 through each proxy at 4 connections (the direct p50 and p99 of
#      the same round beside them: what the request costs without a proxy).
# Load generator: wrk (Debian package; installed if missing and we are root), one thread.
# Bounded: 3 x ROUNDS runs of DURATION seconds, then 2 x ROUNDS toxic runs.
# Usage: bench/proxy.sh [DURATION_SECS] [ROUNDS]   (defaults 6 and 3). Prints a Markdown
# report. Env: BENCH_CONNECTIONS (wrk -c without a toxic, default 16), CARGO_TARGET_DIR
# (where the release binaries go), CASCADE_TOXIPROXY_BIN (the real server; otherwise
# scripts/setup-toxiproxy.sh builds it).
set -euo pipefail

DURATION="${1:-6}"
ROUNDS="${2:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
LATENCY_MS=100
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

case "$DURATION$ROUNDS" in *[!0-9]*) echo "usage: bench/proxy.sh [DURATION_SECS] [ROUNDS]" >&2; exit 2 ;; esac
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 60 ] || [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then
  echo "error: DURATION_SECS must be 1-60 and ROUNDS 1-10" >&2
  exit 2
fi
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    echo "error: wrk not found; install it (e.g. apt-get install wrk)" >&2
    exit 1
  fi
fi
command -v curl >/dev/null || { echo "error: curl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 not found (it reads the API's JSON)" >&2; exit 1; }
TOXIPROXY="${CASCADE_TOXIPROXY_BIN:-$("$ROOT/scripts/setup-toxiproxy.sh" | tail -n 1)}"
[ -x "$TOXIPROXY" ] || { echo "error: no Toxiproxy server at $TOXIPROXY" >&2; exit 1; }

echo "building release binaries..." >&2
(cd "$ROOT" && cargo build --release -q -p fault-proxy -p provider-app)

# free_port: a port on 127.0.0.1 nothing listens on (Toxiproxy cannot report the port it
# bound for -port 0).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: until URL answers 200 (10 s at most).
wait_http() {
  for _ in $(seq 1 1000); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.01
  done
  echo "error: $1 never answered" >&2
  exit 1
}

# The provider: the upstream of both proxies.
"$BIN/provider-app" --bind 127.0.0.1:0 --addr-file "$WORK/provider.addr" \
  --instance-name bench-provider >"$WORK/provider.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 1000); do [ -s "$WORK/provider.addr" ] && break; sleep 0.01; done
PROVIDER=$(tr -d '\n' <"$WORK/provider.addr")
wait_http "http://$PROVIDER/health/ready"

TOXIPROXY_API="127.0.0.1:$(free_port)"
"$TOXIPROXY" -host 127.0.0.1 -port "${TOXIPROXY_API##*:}" >"$WORK/toxiproxy.log" 2>&1 &
TOXIPROXY_PID=$!
PIDS+=("$TOXIPROXY_PID")
wait_http "http://$TOXIPROXY_API/version"

"$BIN/fault-proxy" -host 127.0.0.1 -port 0 --addr-file "$WORK/ours.addr" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!
PIDS+=("$OURS_PID")
for _ in $(seq 1 1000); do [ -s "$WORK/ours.addr" ] && break; sleep 0.01; done
OURS_API=$(tr -d '\n' <"$WORK/ours.addr")
wait_http "http://$OURS_API/version"

# create_proxy API: a proxy on an ephemeral port in front of the provider; prints the
# address it listens on.
create_proxy() {
  curl -fsS -X POST "http://$1/proxies" \
    -d "{\"name\": \"provider\", \"listen\": \"127.0.0.1:0\", \"upstream\": \"$PROVIDER\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["listen"])'
}
VIA_TOXIPROXY=$(create_proxy "$TOXIPROXY_API")
VIA_OURS=$(create_proxy "$OURS_API")
wait_http "http://$VIA_TOXIPROXY/"
wait_http "http://$VIA_OURS/"

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# rss_split PID: "anonymous kB / file-backed kB" of the resident set now.
rss_split() { awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a " / " f}' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
TOXIPROXY_IDLE=$(rss_kb "$TOXIPROXY_PID")
OURS_IDLE=$(rss_kb "$OURS_PID")

# to_ms VALUE: wrk's "812.00us" / "1.23ms" / "1.01s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n
  }'
}

# cpu_ticks PID: user + system CPU time PID has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# load NAME CONNECTIONS ADDR [PID]: one wrk run; records "rps p50_ms p99_ms cpu_us_per_request"
# in $WORK/NAME.rows (the CPU of PID, the proxy, during the run; "-" without one) and
# prints the row.
load() {
  local name="$1" connections="$2" addr="$3" pid="${4:-}" out rps p50 p99 non2xx errors total before cpu="-"
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$connections" -d"${DURATION}s" --latency "http://$addr/")
  if [ -n "$pid" ]; then
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    # A clock tick is 10 ms: below 1,000 requests the figure would be mostly rounding.
    cpu=$(awk -v t=$(( ($(cpu_ticks "$pid") - before) * TICK_US )) -v n="$total" 'BEGIN {if (n < 1000) print "-"; else printf "%.1f", t / n}')
  fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
  errors=$(awk '/Socket errors/ {print $0}' <<<"$out" | sed 's/^ *Socket errors: //')
  echo "$rps $p50 $p99 $cpu" >>"$WORK/$name.rows"
  echo "| $round | $name | $connections | $rps | $p50 | $p99 | $cpu | ${non2xx:-0} | ${errors:-none} |"
}

# median NAME FIELD: median of column FIELD (1 rps, 2 p50, 3 p99, 4 CPU µs per request)
# over the rounds.
median() {
  awk -v f="$2" '{print $f}' "$WORK/$1.rows" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r)"
echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (load generator, proxies and provider share the same cores)"
echo "- $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds interleaved; toxic runs -c4"
echo "- Toxiproxy: $("$TOXIPROXY" -version) ($TOXIPROXY, built by scripts/setup-toxiproxy.sh from v2.5.0); fault-proxy: release build of $(cd "$ROOT" && git rev-parse --short HEAD)"
echo
echo "## No toxic: GET / on provider-app"
echo
echo "| round | path | connections | req/s | p50 ms | p99 ms | proxy CPU µs/request | non-2xx | socket errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "$ROUNDS"); do
  load direct "$CONNECTIONS" "$PROVIDER"
  load toxiproxy "$CONNECTIONS" "$VIA_TOXIPROXY" "$TOXIPROXY_PID"
  load fault-proxy "$CONNECTIONS" "$VIA_OURS" "$OURS_PID"
done
TOXIPROXY_HWM=$(hwm_kb "$TOXIPROXY_PID")
OURS_HWM=$(hwm_kb "$OURS_PID")
TOXIPROXY_SPLIT=$(rss_split "$TOXIPROXY_PID")
OURS_SPLIT=$(rss_split "$OURS_PID")

# The latency toxic, on both proxies at once; then the toxic runs, interleaved.
for api in "$TOXIPROXY_API" "$OURS_API"; do
  curl -fsS -o /dev/null -X POST "http://$api/proxies/provider/toxics" \
    -d "{\"type\": \"latency\", \"attributes\": {\"latency\": $LATENCY_MS, \"jitter\": 0}}"
done
echo
echo "## Latency toxic: ${LATENCY_MS} ms requested (downstream, toxicity 1), 4 connections"
echo
echo "| round | path | connections | req/s | p50 ms | p99 ms | proxy CPU µs/request | non-2xx | socket errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "$ROUNDS"); do
  load toxiproxy-latency 4 "$VIA_TOXIPROXY" "$TOXIPROXY_PID"
  load fault-proxy-latency 4 "$VIA_OURS" "$OURS_PID"
done

echo
echo "## Summary (medians over the rounds)"
echo
echo "| path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/request | peak RSS (VmHWM) | RSS idle | RSS after the load: anon / file kB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
D_RPS=$(median direct 1); D_P50=$(median direct 2); D_P99=$(median direct 3)
echo "| direct | $D_RPS | $D_P50 | $D_P99 | - | - | - | - | - | - |"
for name in toxiproxy fault-proxy; do
  if [ "$name" = toxiproxy ]; then
    hwm=$TOXIPROXY_HWM; idle=$TOXIPROXY_IDLE; split=$TOXIPROXY_SPLIT
  else
    hwm=$OURS_HWM; idle=$OURS_IDLE; split=$OURS_SPLIT
  fi
  rps=$(median "$name" 1); p50=$(median "$name" 2); p99=$(median "$name" 3); cpu=$(median "$name" 4)
  added50=$(awk -v a="$p50" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')
  added99=$(awk -v a="$p99" -v b="$D_P99" 'BEGIN {printf "%.3f", a - b}')
  echo "| $name | $rps | $p50 | $p99 | $added50 | $added99 | $cpu | $hwm kB | $idle kB | $split |"
done
echo
echo "| latency toxic (${LATENCY_MS} ms) | p50 ms | p99 ms | p50 - requested | p99 - requested |"
echo "| --- | --- | --- | --- | --- |"
for name in toxiproxy fault-proxy; do
  p50=$(median "$name-latency" 2); p99=$(median "$name-latency" 3)
  echo "| $name | $p50 | $p99 | $(awk -v a="$p50" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') | $(awk -v a="$p99" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') |"
done
echo
T_RPS=$(median toxiproxy 1); O_RPS=$(median fault-proxy 1)
T_CPU=$(median toxiproxy 4); O_CPU=$(median fault-proxy 4)
echo "Against the targets: throughput fault-proxy / Toxiproxy = $(awk -v o="$O_RPS" -v t="$T_RPS" 'BEGIN {printf "%.2f", o / t}')x (target >= 2x;" \
  "the direct rate bounds both); requests per proxy CPU-second, fault-proxy / Toxiproxy =" \
  "$(awk -v o="$O_CPU" -v t="$T_CPU" 'BEGIN {printf "%.2f", t / o}')x;" \
  "peak RSS fault-proxy / Toxiproxy = $(awk -v o="$OURS_HWM" -v t="$TOXIPROXY_HWM" 'BEGIN {printf "%.2f", o / t}') (target <= 0.33);" \
  "latency toxic p99 - requested: see the table above (target <= 1 ms)."
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
