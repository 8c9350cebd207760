# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this file
# Settings of the local Kubernetes control plane, shared by k8s-up.sh, k8s-down.sh and
# k8s-smoke.sh. Source it from the repository root to use the cluster by hand:
#   . scripts/k8s-env.sh    # sets KUBECONFIG and puts the pinned kubectl first on PATH
#
# Overridable: CASCADE_CACHE, LAB_STATE_DIR (relative paths are taken from the repo root),
# K8S_APISERVER_PORT (6443), K8S_ETCD_PORT (2479), K8S_ETCD_PEER_PORT (2480),
# K8S_KWOK_PORT (10250, the simulated kubelet's port on 127.0.0.1).

k8s_repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
k8s_bin="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/k8s/bin"
k8s_state_root="${LAB_STATE_DIR:-.lab}"
case "$k8s_state_root" in
  /*) ;;
  *) k8s_state_root="$k8s_repo_root/$k8s_state_root" ;;
esac
k8s_state="$k8s_state_root/k8s"
k8s_pki="$k8s_state/pki"
k8s_logs="$k8s_state/logs"
k8s_pids="$k8s_state/pids"
k8s_kubeconfig="$k8s_state/kubeconfig"

k8s_apiserver_port="${K8S_APISERVER_PORT:-6443}"
k8s_etcd_port="${K8S_ETCD_PORT:-2479}"
k8s_etcd_peer_port="${K8S_ETCD_PEER_PORT:-2480}"
k8s_kwok_port="${K8S_KWOK_PORT:-10250}"
k8s_node_name=kwok-node-0

# Start order; k8s-down.sh stops them in reverse.
k8s_components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

export KUBECONFIG="$k8s_kubeconfig"
export CASCADE_KUBECONFIG="$k8s_kubeconfig"
case ":$PATH:" in
  *":$k8s_bin:"*) ;;
  *) export PATH="$k8s_bin:$PATH" ;;
esac

# The pid of a component we started, if that process is still alive and is the same
# program (a recycled pid is not mistaken for ours).
k8s_running_pid() {
  local pid_file="$k8s_pids/$1.pid" pid
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$k8s_bin/$1 " || return 1
  echo "$pid"
}
