#!/usr/bin/env bash
# Benchmark of the fault proxy against the real Toxiproxy server v2.5.0 (issue 19 §2),
# everything on 127.0.0.1, the same load generator for all in the same run:
#   1. no toxic: throughput and latency (p50, p99) of GET / on provider-app direct, through
#      Toxiproxy and through fault-proxy (one instance per build profile asked for); ROUNDS
#      rounds, the targets interleaved in each round so that drift in the machine's load
#      hits them alike; each proxy's CPU time per request during its runs;
#   2. peak RSS (VmHWM from /proc/PID/status) of each proxy after all its load, and how its
#      resident set splits into anonymous and file-backed (mapped binary) pages;
#   3. the latency toxic's accuracy: 100 ms requested (downstream, toxicity 1) vs the
#      measured p50 and p99 through each proxy at 4 connections.
# Load generator: wrk (Debian package; installed if missing and we are root), one thread.
# Bounded: (2 + profiles) x ROUNDS runs of DURATION seconds, then (1 + profiles) x ROUNDS
# toxic runs.
# Usage: bench/proxy.sh [DURATION_SECS] [ROUNDS]   (defaults 6 and 3). Prints a Markdown
# report. Env: BENCH_CONNECTIONS (wrk -c without a toxic, default 16), BENCH_TOXIC_SECS
# (seconds per toxic run, default DURATION_SECS), BENCH_PROFILES
# (fault-proxy's cargo build profiles, default "release"; e.g. "release fault-proxy" adds
# the LTO build), CARGO_TARGET_DIR (where the binaries go), CASCADE_TOXIPROXY_BIN (the real
# server; otherwise scripts/setup-toxiproxy.sh builds it).
set -euo pipefail

DURATION="${1:-6}"
ROUNDS="${2:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-16}"
# The toxic runs see ~39 requests/s at -c4: longer runs give the p99 more than a handful
# of requests to stand on.
TOXIC_DURATION="${BENCH_TOXIC_SECS:-$DURATION}"
read -r -a PROFILES <<<"${BENCH_PROFILES:-release}"
LATENCY_MS=100
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

case "$DURATION$ROUNDS$TOXIC_DURATION" in *[!0-9]*) echo "usage: bench/proxy.sh [DURATION_SECS] [ROUNDS]" >&2; exit 2 ;; esac
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 60 ] || [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ] ||
  [ "$TOXIC_DURATION" -lt 1 ] || [ "$TOXIC_DURATION" -gt 60 ]; then
  echo "error: DURATION_SECS and BENCH_TOXIC_SECS must be 1-60, ROUNDS 1-10" >&2
  exit 2
fi
if [ "${#PROFILES[@]}" -lt 1 ] || [ "${#PROFILES[@]}" -gt 3 ]; then
  echo "error: BENCH_PROFILES must name 1 to 3 build profiles" >&2
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

echo "building provider-app (release) and fault-proxy (${PROFILES[*]})..." >&2
(cd "$ROOT" && cargo build --release -q -p provider-app)
for profile in "${PROFILES[@]}"; do
  (cd "$ROOT" && cargo build --profile "$profile" -q -p fault-proxy)
done

# profile_dir PROFILE: where cargo puts that profile's binaries.
profile_dir() {
  case "$1" in
    dev | test) echo "$CARGO_TARGET_DIR/debug" ;;
    *) echo "$CARGO_TARGET_DIR/$1" ;;
  esac
}

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

# wait_file FILE: until FILE has content (10 s at most); prints it.
wait_file() {
  for _ in $(seq 1 1000); do
    [ -s "$1" ] && { tr -d '\n' <"$1"; return 0; }
    sleep 0.01
  done
  echo "error: nothing in $1" >&2
  exit 1
}

# create_proxy API: a proxy on an ephemeral port in front of the provider; prints the
# address it listens on.
create_proxy() {
  curl -fsS -X POST "http://$1/proxies" \
    -d "{\"name\": \"provider\", \"listen\": \"127.0.0.1:0\", \"upstream\": \"$PROVIDER\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["listen"])'
}

hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# rss_split PID: "anonymous kB / file-backed kB" of the resident set now.
rss_split() { awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a " / " f}' "/proc/$1/status"; }
# cpu_ticks PID: user + system CPU time PID has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

# The provider: the upstream of every proxy.
"$(profile_dir release)/provider-app" --bind 127.0.0.1:0 --addr-file "$WORK/provider.addr" \
  --instance-name bench-provider >"$WORK/provider.log" 2>&1 &
PIDS+=("$!")
PROVIDER=$(wait_file "$WORK/provider.addr")
wait_http "http://$PROVIDER/health/ready"

# The proxies, by name: API address, pid, the proxy's listen address, RSS when idle.
declare -A API PID VIA IDLE HWM SPLIT
NAMES=(toxiproxy)
API[toxiproxy]="127.0.0.1:$(free_port)"
"$TOXIPROXY" -host 127.0.0.1 -port "${API[toxiproxy]##*:}" >"$WORK/toxiproxy.log" 2>&1 &
PID[toxiproxy]=$!
PIDS+=("${PID[toxiproxy]}")
wait_http "http://${API[toxiproxy]}/version"
for profile in "${PROFILES[@]}"; do
  name=fault-proxy
  [ "$profile" = release ] || name="fault-proxy[$profile]"
  NAMES+=("$name")
  "$(profile_dir "$profile")/fault-proxy" -host 127.0.0.1 -port 0 --addr-file "$WORK/$profile.addr" \
    >"$WORK/$profile.log" 2>&1 &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  API[$name]=$(wait_file "$WORK/$profile.addr")
  wait_http "http://${API[$name]}/version"
done
for name in "${NAMES[@]}"; do
  VIA[$name]=$(create_proxy "${API[$name]}")
  wait_http "http://${VIA[$name]}/"
  IDLE[$name]=$(rss_kb "${PID[$name]}")
done

# to_ms VALUE: wrk's "812.00us" / "1.23ms" / "1.01s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n
  }'
}

# load ROWS CONNECTIONS ADDR [PID]: one wrk run of SECONDS_PER_RUN seconds; appends
# "rps p50_ms p99_ms cpu_us_per_request" to $WORK/ROWS.rows (the CPU of PID, the proxy,
# during the run; "-" without one) and prints the table row.
load() {
  local rows="$1" connections="$2" addr="$3" pid="${4:-}" out rps p50 p99 non2xx errors total before cpu="-"
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$connections" -d"${SECONDS_PER_RUN}s" --latency "http://$addr/")
  if [ -n "$pid" ]; then
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    # A clock tick is 10 ms: below 1,000 requests the figure would be mostly rounding.
    cpu=$(awk -v t=$(( ($(cpu_ticks "$pid") - before) * TICK_US )) -v n="$total" \
      'BEGIN {if (n < 1000) print "-"; else printf "%.1f", t / n}')
  fi
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$out")
  errors=$(awk '/Socket errors/ {print $0}' <<<"$out" | sed 's/^ *Socket errors: //')
  echo "$rps $p50 $p99 $cpu" >>"$WORK/$rows.rows"
  echo "| $round | $rows | $connections | $rps | $p50 | $p99 | $cpu | ${non2xx:-0} | ${errors:-none} |"
}

# median ROWS FIELD: median of column FIELD (1 rps, 2 p50, 3 p99, 4 CPU µs per request)
# over the rounds.
median() {
  awk -v f="$2" '{print $f}' "$WORK/$1.rows" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "## Machine"
echo
echo "- nproc: $(nproc); CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r)"
echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (load generator, proxies and provider share the same cores)"
echo "- $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds interleaved; toxic runs -c4 -d${TOXIC_DURATION}s"
echo "- Toxiproxy: $("$TOXIPROXY" -version) ($TOXIPROXY, built by scripts/setup-toxiproxy.sh from v2.5.0)"
echo "- fault-proxy: $(cd "$ROOT" && git rev-parse --short HEAD), cargo profiles: ${PROFILES[*]}; binary sizes:$(for p in "${PROFILES[@]}"; do printf ' %s %s bytes;' "$p" "$(stat -c %s "$(profile_dir "$p")/fault-proxy")"; done)"
echo
echo "## No toxic: GET / on provider-app"
echo
echo "| round | path | connections | req/s | p50 ms | p99 ms | proxy CPU µs/request | non-2xx | socket errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
SECONDS_PER_RUN=$DURATION
for round in $(seq 1 "$ROUNDS"); do
  load direct "$CONNECTIONS" "$PROVIDER"
  for name in "${NAMES[@]}"; do
    load "$name" "$CONNECTIONS" "${VIA[$name]}" "${PID[$name]}"
  done
done
for name in "${NAMES[@]}"; do
  HWM[$name]=$(hwm_kb "${PID[$name]}")
  SPLIT[$name]=$(rss_split "${PID[$name]}")
done

# The latency toxic on every proxy at once; then the toxic runs, interleaved.
for name in "${NAMES[@]}"; do
  curl -fsS -o /dev/null -X POST "http://${API[$name]}/proxies/provider/toxics" \
    -d "{\"type\": \"latency\", \"attributes\": {\"latency\": $LATENCY_MS, \"jitter\": 0}}"
done
echo
echo "## Latency toxic: ${LATENCY_MS} ms requested (downstream, toxicity 1), 4 connections, ${TOXIC_DURATION} s per run"
echo
echo "| round | path | connections | req/s | p50 ms | p99 ms | proxy CPU µs/request | non-2xx | socket errors |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
SECONDS_PER_RUN=$TOXIC_DURATION
for round in $(seq 1 "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    load "$name+latency" 4 "${VIA[$name]}" "${PID[$name]}"
  done
done

echo
echo "## Summary (medians over the rounds)"
echo
echo "| path | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU µs/request | peak RSS (VmHWM) | RSS idle | RSS after the load: anon / file kB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
D_RPS=$(median direct 1); D_P50=$(median direct 2); D_P99=$(median direct 3)
echo "| direct | $D_RPS | $D_P50 | $D_P99 | - | - | - | - | - | - |"
for name in "${NAMES[@]}"; do
  p50=$(median "$name" 2); p99=$(median "$name" 3)
  echo "| $name | $(median "$name" 1) | $p50 | $p99 |" \
    "$(awk -v a="$p50" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}') |" \
    "$(awk -v a="$p99" -v b="$D_P99" 'BEGIN {printf "%.3f", a - b}') |" \
    "$(median "$name" 4) | ${HWM[$name]} kB | ${IDLE[$name]} kB | ${SPLIT[$name]} |"
done
echo
echo "| latency toxic (${LATENCY_MS} ms) | p50 ms | p99 ms | p50 - requested | p99 - requested |"
echo "| --- | --- | --- | --- | --- |"
for name in "${NAMES[@]}"; do
  p50=$(median "$name+latency" 2); p99=$(median "$name+latency" 3)
  echo "| $name | $p50 | $p99 | $(awk -v a="$p50" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') | $(awk -v a="$p99" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') |"
done
echo
echo "Against the targets (fault-proxy / Toxiproxy; target: throughput >= 2x, peak RSS <= 0.33, latency toxic p99 within 1 ms of the request):"
echo
for name in "${NAMES[@]:1}"; do
  echo "- $name: throughput $(ratio "$(median "$name" 1)" "$(median toxiproxy 1)")x" \
    "(the direct rate, $(ratio "$D_RPS" "$(median toxiproxy 1)")x Toxiproxy's, bounds any proxy);" \
    "requests per proxy CPU-second $(ratio "$(median toxiproxy 4)" "$(median "$name" 4)")x;" \
    "peak RSS $(ratio "${HWM[$name]}" "${HWM[toxiproxy]}");" \
    "latency toxic p99 $(awk -v a="$(median "$name+latency" 3)" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') ms" \
    "(Toxiproxy $(awk -v a="$(median toxiproxy+latency 3)" -v r="$LATENCY_MS" 'BEGIN {printf "%+.3f", a - r}') ms)"
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
