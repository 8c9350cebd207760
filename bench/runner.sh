#!/usr/bin/env bash
# Benchmark: the same no-pause experiment run by the reference `chaos run` and by
# `chaos-runner run` (release). KIND `http` (default): 10 http probes against a local
# server plus a process action; `python`: one python probe (os.path.exists), i.e. run
# start to the first Python activity's answer, through chaos-runner's bridge in the
# reference's own interpreter. Reports wall time (hyperfine when installed, else
# repeated timing) and peak RSS (/usr/bin/time -v: the largest of the runner and the
# processes it waited for, so the bridge's interpreter counts).
# Usage: bench/runner.sh [RUNS] [KIND]   (defaults 20, http)
# Env: CASCADE_CHAOS_BIN (the reference `chaos`), RUNNER_BIN (a chaos-runner to time
# instead of building this checkout's release binary), CARGO_TARGET_DIR.
set -euo pipefail

runs="${1:-20}"
kind="${2:-http}"
case "$kind" in http | python) ;; *) echo "bench/runner.sh: KIND must be http or python, not '$kind'" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
export CARGO_TARGET_DIR="$target"

chaos="${CASCADE_CHAOS_BIN:-$("$root/scripts/setup-chaostoolkit.sh" | tail -n 1)}"
# RUNNER_BIN=<path> times an existing chaos-runner binary instead (e.g. an older build,
# for before/after comparisons with exactly this script).
if [ -n "${RUNNER_BIN:-}" ]; then
    ours="$RUNNER_BIN"
else
    (cd "$root" && cargo build --release -q -p chaos-runner)
    ours="$target/release/chaos-runner"
fi
[ -x "$ours" ] || { echo "bench/runner.sh: $ours not built" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null 2>&1 || { echo "bench/runner.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
fi

work="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A local static HTTP server on an ephemeral port (the same one for both runners).
echo hello > "$work/index.html"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work" > "$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do
    port="$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/server.log" | head -n 1)"
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "bench/runner.sh: test server did not start" >&2; exit 1; }

python3 - "$port" "$kind" > "$work/experiment.json" <<'PY'
import json, sys
port, kind = sys.argv[1:]
if kind == "python":
    method = [{"type": "probe", "name": "python-probe", "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}}}]
    print(json.dumps({"title": "bench", "description": "one python probe", "method": method}))
else:
    probes = [{"type": "probe", "name": f"probe-{i}", "provider": {"type": "http", "url": f"http://127.0.0.1:{port}/index.html", "timeout": 5}} for i in range(10)]
    action = {"type": "action", "name": "process-action", "provider": {"type": "process", "path": "true"}}
    print(json.dumps({"title": "bench", "description": "10 http probes and a process action", "method": probes + [action]}))
PY
# chaos-runner's bridge uses the reference's interpreter, so both import the same os.
CHAOS_RUNNER_PYTHON="$(dirname "$chaos")/python"
export CHAOS_RUNNER_PYTHON
activities=11; [ "$kind" = python ] && activities=1

ref_cmd="$chaos --no-version-check --no-log-file run --journal-path $work/ref.json $work/experiment.json"
our_cmd="$ours run --journal-path $work/ours.json $work/experiment.json"

# Both must complete the experiment before we time anything.
$ref_cmd 2>/dev/null && $our_cmd 2>/dev/null
python3 - "$activities" "$work/ref.json" "$work/ours.json" <<'PY'
import json, sys
activities = int(sys.argv[1])
for path in sys.argv[2:]:
    j = json.load(open(path))
    assert j["status"] == "completed" and len(j["run"]) == activities, path
    assert all(r["status"] == "succeeded" for r in j["run"]), path
PY

echo "## machine"
echo "nproc: $(nproc); cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "chaos: $("$(dirname "$chaos")/python" -m pip list 2>/dev/null | grep -E '^chaostoolkit(-lib)? ' | tr -s ' ' | paste -sd ';' -)"
echo "chaos-runner: $ours"
echo "load average (1/5/15 min) before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## wall time ($runs runs each, experiment: $kind)"
if command -v hyperfine >/dev/null 2>&1; then
    # -N: no intermediate shell (the commands need none); with a shell, hyperfine
    # subtracts an estimated shell start-up time, which is noisy on a loaded machine.
    hyperfine -N --warmup 2 --runs "$runs" --style basic --export-markdown "$work/wall.md" \
        -n "chaos run" "$ref_cmd" -n "chaos-runner run" "$our_cmd" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
    echo
    cat "$work/wall.md"
else
    for name in ref ours; do
        cmd="$ref_cmd"; [ "$name" = ours ] && cmd="$our_cmd"
        start=$(date +%s.%N)
        for _ in $(seq 1 "$runs"); do $cmd 2>/dev/null; done
        end=$(date +%s.%N)
        echo "$name: mean $(echo "($end - $start) / $runs" | bc -l) s"
    done
fi
echo
echo "## peak RSS (max of 5 runs, KiB)"
for name in "chaos run" "chaos-runner run"; do
    cmd="$ref_cmd"; [ "$name" = "chaos-runner run" ] && cmd="$our_cmd"
    peak=0
    for _ in 1 2 3 4 5; do
        # $cmd is a command line built above: split into words on purpose.
        # shellcheck disable=SC2086
        kb=$( { /usr/bin/time -v $cmd 2>&1 >/dev/null; } | sed -n 's/.*Maximum resident set size (kbytes): //p')
        [ "$kb" -gt "$peak" ] && peak=$kb
    done
    echo "$name: $peak"
done
echo
echo "load average (1/5/15 min) after timing: $(cut -d' ' -f1-3 /proc/loadavg)"
