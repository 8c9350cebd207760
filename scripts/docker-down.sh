#!/usr/bin/env bash
# Stops the project's Docker engine (scripts/docker-up.sh). Its data root (images, build
# cache) stays under $CASCADE_CACHE/docker for the next start. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/docker-env.sh

pid=$(cat "$DOCKER_PIDFILE" 2>/dev/null || true)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  echo "docker-down: the project's Docker engine is not running"
  exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 60); do
  kill -0 "$pid" 2>/dev/null || { echo "docker-down: stopped"; exit 0; }
  sleep 0.5
done
echo "docker-down: dockerd ($pid) did not stop in 30 s; killing it" >&2
kill -KILL "$pid" 2>/dev/null || true
