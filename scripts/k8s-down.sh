#!/usr/bin/env bash
# Stops the local Kubernetes control plane started by k8s-up.sh and removes its state
# (${LAB_STATE_DIR:-.lab}/k8s). Idempotent: with nothing running it only says so.
# Exit status is non-zero if a process could not be stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/k8s-env.sh
. scripts/k8s-env.sh

say() { echo "k8s-down: $*"; }

# One k8s-up/k8s-down at a time per state folder (k8s-up.sh holds it when it calls us).
if [ "${K8S_LOCK_HELD:-0}" != 1 ]; then
  mkdir -p "$k8s_state_root"
  exec 9>"$k8s_state_root/.k8s.lock"
  flock -w 300 9 || { echo "k8s-down: error: another k8s-up/k8s-down holds $k8s_state_root/.k8s.lock" >&2; exit 1; }
fi

# Our processes: those recorded in pids/, plus any process running one of our binaries
# with this state folder in its arguments (in case a pid file was lost).
our_pids() {
  local c pid cmd
  for c in "${k8s_components[@]}"; do
    if pid=$(k8s_running_pid "$c"); then echo "$pid"; fi
  done
  for cmd in /proc/[0-9]*/cmdline; do
    pid=${cmd#/proc/}
    pid=${pid%/cmdline}
    if tr '\0' ' ' 2>/dev/null <"$cmd" | grep -q -- "^$k8s_bin/[a-z-]* .*$k8s_state/"; then
      echo "$pid"
    fi
  done
}

mapfile -t pids < <(our_pids | sort -u)
if [ "${#pids[@]}" -eq 0 ]; then
  say "nothing running"
else
  say "stopping ${#pids[@]} process(es): ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=()
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
    done
    [ "${#alive[@]}" -eq 0 ] && break
    sleep 0.2
  done
  if [ "${#alive[@]}" -gt 0 ]; then
    say "still running after 10s, sending SIGKILL: ${alive[*]}"
    kill -KILL "${alive[@]}" 2>/dev/null || true
    sleep 0.5
  fi
  left=$(our_pids | sort -u | tr '\n' ' ')
  if [ -n "$left" ]; then
    echo "k8s-down: error: processes still running: $left" >&2
    exit 1
  fi
fi

if [ -d "$k8s_state" ]; then
  rm -rf "$k8s_state"
  say "removed $k8s_state"
fi
