#!/usr/bin/env bash
# Benchmark of the native chaosk8s driver (issue 5): time from runner start to the first
# chaosk8s probe's answer, and peak RSS, for
#   - chaos-runner (release build, native chaosk8s), and
#   - the Python `chaos` (chaostoolkit 1.19) with chaostoolkit-kubernetes 0.39,
# both running the same experiment against the same local control plane.
#
# "First answer" is the `end` timestamp of the first steady-state probe in the journal,
# minus the wall-clock time just before the runner was spawned. Peak RSS is the child's
# ru_maxrss (wait4). Each runner runs RUNS times (default 5); medians are reported.
#
# Needs: the control plane (make k8s-up; kubeconfig from CASCADE_KUBECONFIG or
# .lab/k8s/kubeconfig), python3, and the Python Chaos Toolkit (CASCADE_CHAOS_BIN, else
# scripts/setup-chaostoolkit.sh installs it). Usage: bench/chaosk8s.sh [RUNS]
# Prints a Markdown report on stdout.
set -euo pipefail

RUNS="${1:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/target}"
export CARGO_TARGET_DIR="$TARGET_DIR"
RUNNER="$TARGET_DIR/release/chaos-runner"
KUBECONFIG_PATH="${CASCADE_KUBECONFIG:-$ROOT/.lab/k8s/kubeconfig}"
NS="${BENCH_NS:-default}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

die() { echo "bench/chaosk8s: error: $*" >&2; exit 1; }

[ -f "$KUBECONFIG_PATH" ] || die "no kubeconfig at $KUBECONFIG_PATH; start the control plane with 'make k8s-up' (or set CASCADE_KUBECONFIG)"
command -v python3 >/dev/null || die "python3 not found"

echo "building chaos-runner (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p chaos-runner) || die "cargo build --release -p chaos-runner failed"
[ -x "$RUNNER" ] || die "no chaos-runner binary at $RUNNER"

CHAOS="${CASCADE_CHAOS_BIN:-}"
if [ -z "$CHAOS" ]; then
  CHAOS="$("$ROOT/scripts/setup-chaostoolkit.sh" | tail -n 1)" || die "scripts/setup-chaostoolkit.sh failed"
fi
[ -x "$CHAOS" ] || die "Python chaos not executable: $CHAOS"
"$(dirname "$CHAOS")/python" -c 'import chaosk8s' 2>/dev/null \
  || die "chaostoolkit-kubernetes is not installed next to $CHAOS"

# One chaosk8s probe in the steady state (the measured one), one in the method.
cat >"$WORK/experiment.json" <<EOF
{
  "title": "bench: first chaosk8s probe",
  "description": "all_microservices_healthy, then count_pods",
  "steady-state-hypothesis": {
    "title": "healthy",
    "probes": [{
      "type": "probe", "name": "all-healthy", "tolerance": true,
      "provider": {"type": "python", "module": "chaosk8s.probes",
                   "func": "all_microservices_healthy", "arguments": {"ns": "$NS"}}
    }]
  },
  "method": [{
    "type": "probe", "name": "count",
    "provider": {"type": "python", "module": "chaosk8s.pod.probes",
                 "func": "count_pods", "arguments": {"label_selector": "", "ns": "$NS"}}
  }],
  "rollbacks": []
}
EOF

# measure.py LABEL JOURNAL CMD...: one run; prints "first_answer_s total_s maxrss_kib status".
cat >"$WORK/measure.py" <<'PY'
import datetime, json, os, subprocess, sys, time
journal, cmd = sys.argv[1], sys.argv[2:]
if os.path.exists(journal):
    os.remove(journal)
t0 = time.time()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
total = time.time() - t0
with open(journal) as f:
    j = json.load(f)
end = j["steady_states"]["before"]["probes"][0]["end"]
end_ts = datetime.datetime.fromisoformat(end)
if end_ts.tzinfo is None:  # chaostoolkit journals naive UTC times
    end_ts = end_ts.replace(tzinfo=datetime.timezone.utc)
first = end_ts.timestamp() - t0
probe_status = j["steady_states"]["before"]["probes"][0]["status"]
print(f"{first:.3f} {total:.3f} {usage.ru_maxrss} {j['status']}/{probe_status}")
PY

export KUBECONFIG="$KUBECONFIG_PATH"
run_series() { # NAME CMD...  -> appends one line per run to $WORK/NAME.txt
  local name="$1"; shift
  for _ in $(seq "$RUNS"); do
    python3 "$WORK/measure.py" "$WORK/$name-journal.json" "$@" --journal-path "$WORK/$name-journal.json" \
      "$WORK/experiment.json" >>"$WORK/$name.txt" 2>/dev/null \
      || die "$name run failed: $* (run it by hand to see why)"
  done
}
# Warm the page cache for both so neither pays a cold first read.
"$RUNNER" --help >/dev/null 2>&1 || true
"$(dirname "$CHAOS")/python" -c 'import chaosk8s, chaoslib' >/dev/null 2>&1 || true

echo "running $RUNS x chaos-runner and $RUNS x chaos..." >&2
# The measure script inserts --journal-path before the experiment; the subcommand comes first.
cd "$WORK"
run_series ours "$RUNNER" run
# No PyPI version check and no log file: only the run itself is measured.
run_series python "$CHAOS" --no-version-check --no-log-file run

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.txt" | median; }

ours_first=$(col ours 1); py_first=$(col python 1)
ours_total=$(col ours 2); py_total=$(col python 2)
ours_rss=$(col ours 3); py_rss=$(col python 3)
statuses_ours=$(awk '{print $4}' "$WORK/ours.txt" | sort -u | tr '\n' ' ')
statuses_py=$(awk '{print $4}' "$WORK/python.txt" | sort -u | tr '\n' ' ')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / b}'; }

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
cat <<EOF
## chaosk8s driver: chaos-runner vs Python chaos + chaostoolkit-kubernetes

Machine: $(nproc) cores, $cpu_model. Control plane: local kube-apiserver (make k8s-up),
namespace \`$NS\`. Medians of $RUNS runs each. Command: \`bench/chaosk8s.sh $RUNS\`.

| | chaos-runner | chaos (Python) | ratio |
|---|---:|---:|---:|
| start -> first chaosk8s probe answer (s) | $ours_first | $py_first | $(ratio "$py_first" "$ours_first")x faster |
| whole run (s) | $ours_total | $py_total | $(ratio "$py_total" "$ours_total")x faster |
| peak RSS (KiB) | $ours_rss | $py_rss | $(ratio "$ours_rss" "$py_rss") of Python's |

Journal status/probe status: chaos-runner \`$statuses_ours\`, chaos \`$statuses_py\`.
Raw runs (first_answer_s total_s maxrss_kib status):

chaos-runner:
\`\`\`
$(cat "$WORK/ours.txt")
\`\`\`
chaos:
\`\`\`
$(cat "$WORK/python.txt")
\`\`\`
EOF
