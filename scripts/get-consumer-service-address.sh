#!/usr/bin/env bash
# Prints the URL of the consumer's /invokeConsumedService as seen from this machine, using
# kubectl alone (the tutorial's script; `lab address` gives the same answer with kube-rs):
#   kind      (context kind-*):    http://localhost:<nodePort>/...  kind/cluster.yaml maps the
#                                  node port to the same port on the host's loopback
#   minikube  (context minikube):  http://<minikube node InternalIP>:<nodePort>/...
#   otherwise:                     http://<a worker node's InternalIP>:<nodePort>/...
# Usage: get-consumer-service-address.sh [-n|--namespace NS] [--context CTX] [--kubeconfig PATH]
set -euo pipefail

readonly service=my-consumer-service
readonly path=/invokeConsumedService
readonly prog="${0##*/}"

die() {
  echo "$prog: error: $*" >&2
  exit 1
}

usage() {
  sed -n '2,9s/^# \{0,1\}//p' "$0"
}

# Options are passed through to every kubectl call.
kubectl_args=()
namespace=""
context=""
while [ $# -gt 0 ]; do
  case "$1" in
    -n | --namespace | --context | --kubeconfig)
      if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi
      case "$1" in
        -n | --namespace) namespace="$2" ;;
        --context) context="$2" ;;
      esac
      kubectl_args+=("$1" "$2")
      shift 2
      ;;
    --namespace=* | --context=* | --kubeconfig=*)
      [ -n "${1#*=}" ] || die "option ${1%%=*} needs a value"
      case "$1" in
        --namespace=*) namespace="${1#*=}" ;;
        --context=*) context="${1#*=}" ;;
      esac
      kubectl_args+=("$1")
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

command -v kubectl >/dev/null 2>&1 || die "kubectl not found on PATH (install it: https://kubernetes.io/docs/tasks/tools/)"

kc() {
  kubectl "${kubectl_args[@]}" "$@"
}

# The context decides how the node port is reached from here.
if [ -z "$context" ]; then
  context=$(kc config current-context 2>/dev/null) || context=""
fi

# The Service and its node port. kubectl's own message says why a lookup failed
# (not found, no access, cluster unreachable); keep it, and add which object we wanted.
if [ -z "$namespace" ]; then
  namespace=$(kc config view --minify -o 'jsonpath={..namespace}' 2>/dev/null) || namespace=""
fi
where="namespace '${namespace:-default}'"
if ! svc=$(kc get service "$service" \
  -o 'jsonpath={.spec.type}{" "}{.spec.ports[0].nodePort}' 2>&1); then
  case "$svc" in
    *"(NotFound)"*)
      die "service '$service' not found in $where (is the lab deployed? kubectl apply -k manifests/overlays/before)" ;;
    *) die "cannot read service '$service' in $where: ${svc//$'\n'/ }" ;;
  esac
fi
read -r svc_type node_port <<<"$svc"
if [ "$svc_type" != NodePort ] && [ "$svc_type" != LoadBalancer ]; then
  die "service '$service' in $where has type '$svc_type', expected NodePort"
fi
[ -n "${node_port:-}" ] || die "service '$service' in $where has no node port"

# InternalIP of the named node, or of the first node (one per line) matching a selector.
internal_ip_of_node() {
  kc get node "$1" -o 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}' 2>/dev/null
}
internal_ip_of_first_node() {
  kc get nodes "$@" \
    -o 'jsonpath={range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' |
    awk 'NF { print $1; exit }'
}

case "$context" in
  kind-*)
    # kind/cluster.yaml publishes the node port on the host under the same number.
    host=localhost
    ;;
  *)
    host=""
    if [ "$context" = minikube ]; then
      # minikube names its (first) node after the profile, "minikube" by default.
      host=$(internal_ip_of_node minikube) || host=""
      host=${host%% *}
    fi
    if [ -z "$host" ]; then
      # Prefer a worker: on many clusters control-plane nodes do not serve node ports
      # to the outside, or are not reachable at all.
      nodes=$(kc get nodes -o name 2>&1) || die "cannot list nodes: ${nodes//$'\n'/ }"
      [ -n "$nodes" ] || die "the cluster has no nodes, so the node port of '$service' is not reachable"
      host=$(internal_ip_of_first_node -l '!node-role.kubernetes.io/control-plane')
      [ -n "$host" ] || host=$(internal_ip_of_first_node)
      [ -n "$host" ] || die "no node has an InternalIP address (kubectl get nodes -o wide)"
    fi
    # An IPv6 literal needs brackets in a URL.
    case "$host" in *:*) host="[$host]" ;; esac
    ;;
esac

echo "http://${host}:${node_port}${path}"
