# shellcheck shell=bash
# Where the project's own Docker engine lives (scripts/docker-up.sh). Source it:
#   . scripts/docker-env.sh && docker ps
# Sets DOCKER_HOST for the docker CLI and kind, and docker_alive to check the engine.
DOCKER_DIR="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/docker"
# Sockets and the engine's runtime state need short paths and a tmpfs-like lifetime.
DOCKER_EXEC_ROOT=/run/cascade-lab/docker
DOCKER_PIDFILE=/run/cascade-lab/dockerd.pid
DOCKER_HOST="unix:///run/cascade-lab/docker.sock"
export DOCKER_HOST DOCKER_DIR DOCKER_EXEC_ROOT DOCKER_PIDFILE

docker_alive() {
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}
