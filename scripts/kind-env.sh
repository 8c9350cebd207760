# shellcheck shell=bash
# The environment of the offline kind tier, for a shell: source it after
# scripts/kind-build.sh (make kind-up runs both):
#   . scripts/kind-env.sh && lab status && chaos-runner run experiment.json
# Sets DOCKER_HOST (the project's engine), PATH (kind, kubectl), LAB_KIND_IMAGE and
# LAB_BUILD_* (what `lab up --target kind` builds with here) and KUBECONFIG: the cluster's
# kubeconfig lives in .lab/kind/, so ~/.kube/config is never touched.
_kind_env="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/kind/env"
if [ -f "$_kind_env" ]; then
  # shellcheck disable=SC1090
  . "$_kind_env"
  KUBECONFIG="${LAB_STATE_DIR:-$(git rev-parse --show-toplevel 2>/dev/null || pwd)/.lab}/kind/kubeconfig"
  export KUBECONFIG
  mkdir -p "$(dirname "$KUBECONFIG")"
else
  echo "kind-env: $_kind_env is missing: run scripts/kind-build.sh first" >&2
fi
unset _kind_env
