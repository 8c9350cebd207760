#!/usr/bin/env bash
# Starts the project's own Docker engine for the kind tier: its own socket, data root,
# exec root and pidfile, so it never touches (or needs) a Docker the machine may already
# run. Prints `export DOCKER_HOST=...` last. A second call while it runs only prints that.
#
# Usage: scripts/docker-up.sh
# Env: CASCADE_CACHE (default ~/.cache/cascade-lab); the engine's files live under
#      $CASCADE_CACHE/docker (data root: images and build cache, kept between runs).
#
# Offline machine facts this handles (k8s/README.md, "kind tier"):
# - no registry: nothing is ever pulled; images are built locally (scripts/kind-build.sh);
# - the engine has no bridge and no iptables/NAT rules of its own: containers reach only
#   each other on the project's networks, published ports go through docker-proxy on
#   127.0.0.1, and nothing a container sends is routed off the machine;
# - when the machine's bounding capability set lacks CAP_SYS_RESOURCE, Docker 20.10 cannot
#   start --privileged containers (moby/moby#42906); the engine then runs containers
#   through k8s/docker/runc-drop-sys-resource, which removes that one capability and
#   calls runc. Where the capability is there, plain runc is used.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/docker-env.sh
. scripts/need-programs.sh

say() { echo "docker-up: $*" >&2; }
die() { echo "docker-up: error: $*" >&2; exit 1; }

if docker_alive; then
  say "the project's Docker engine is already running ($DOCKER_HOST)"
  echo "export DOCKER_HOST=$DOCKER_HOST"
  exit 0
fi

# Debian's docker.io brings dockerd, containerd and runc; jq edits OCI bundles for the
# capability wrapper. Install what is missing when we may (root with apt, as on CI).
need_programs docker-up dockerd:docker.io jq:jq ip:iproute2
[ "$(id -u)" = 0 ] || die "dockerd must run as root here (rootless Docker is not set up by this script)"

mkdir -p "$DOCKER_DIR/data" "$DOCKER_EXEC_ROOT"
runtime_args=()
# Bit 24 of the bounding set is CAP_SYS_RESOURCE.
bounding=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
if (( (16#$bounding >> 24 & 1) == 0 )); then
  say "CAP_SYS_RESOURCE is not in this machine's bounding set: containers run through k8s/docker/runc-drop-sys-resource"
  wrapper="$DOCKER_DIR/runc-drop-sys-resource"
  install -m 0755 k8s/docker/runc-drop-sys-resource "$wrapper"
  runtime_args=(--add-runtime "cascade-runc=$wrapper" --default-runtime cascade-runc)
fi

say "starting dockerd ($(dockerd --version)) on $DOCKER_HOST, data root $DOCKER_DIR/data"
# setsid: the engine must outlive this script and the terminal that ran it.
setsid dockerd \
  --host "$DOCKER_HOST" \
  --data-root "$DOCKER_DIR/data" \
  --exec-root "$DOCKER_EXEC_ROOT" \
  --pidfile "$DOCKER_PIDFILE" \
  --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
  --userland-proxy=true \
  "${runtime_args[@]}" \
  >"$DOCKER_DIR/dockerd.log" 2>&1 </dev/null &

for _ in $(seq 1 120); do
  if docker_alive; then
    say "ready"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 "$DOCKER_DIR/dockerd.log" >&2 || true
die "dockerd did not answer within 60 s (log: $DOCKER_DIR/dockerd.log)"
