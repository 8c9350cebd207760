#!/usr/bin/env bash
# Self-test of the local control plane: k8s-up, a 2-replica Deployment and a NodePort
# Service, wait for Available, check the pods are Running with pod IPs on the simulated
# node and the Service has endpoints, check PodSecurity enforcement, delete, k8s-down
# and check no process is left. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/k8s-env.sh
. scripts/k8s-env.sh

ns=smoke
fail() {
  echo "k8s-smoke: FAIL: $*" >&2
  exit 1
}
step() { echo "k8s-smoke: $*"; }
k() { "$k8s_bin/kubectl" --request-timeout=10s "$@"; }

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -d "$k8s_logs" ]; then
    echo "k8s-smoke: logs were in $k8s_logs:" >&2
    for f in "$k8s_logs"/*.log; do
      echo "--- $f (last 5 lines)" >&2
      tail -n 5 "$f" >&2 || true
    done
  fi
  scripts/k8s-down.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT

scripts/k8s-up.sh

step "creating namespace $ns, a Deployment with 2 replicas and a NodePort Service"
k create namespace "$ns" >/dev/null
k -n "$ns" apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, name: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
EOF

step "waiting for the Deployment to become Available"
k -n "$ns" wait --for=condition=Available deployment/web --timeout=90s >/dev/null \
  || fail "deployment web did not become Available within 90s"
ready=$(k -n "$ns" get deployment web -o 'jsonpath={.status.readyReplicas}')
[ "$ready" = 2 ] || fail "deployment web has readyReplicas=$ready, want 2"

mapfile -t pods < <(k -n "$ns" get pods -l app=web \
  -o 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.podIP} {.spec.nodeName}{"\n"}{end}')
[ "${#pods[@]}" = 2 ] || fail "want 2 pods, got ${#pods[@]}: ${pods[*]}"
for line in "${pods[@]}"; do
  read -r name phase ip node <<<"$line"
  [ "$phase" = Running ] || fail "pod $name is $phase, want Running"
  [[ "$ip" =~ ^10\.244\.0\.[0-9]+$ ]] || fail "pod $name has pod IP '$ip', want one in 10.244.0.0/24"
  [ "$node" = "$k8s_node_name" ] || fail "pod $name is on node '$node', want $k8s_node_name"
  step "pod $name Running, IP $ip, node $node"
done

node_port=$(k -n "$ns" get service web -o 'jsonpath={.spec.ports[0].nodePort}')
((node_port >= 30000 && node_port <= 32767)) || fail "service web got nodePort '$node_port'"
endpoints=""
for _ in $(seq 1 30); do
  # A new EndpointSlice has `endpoints: null` for a moment, which a jsonpath filter refuses
  # ("is not array or slice"); ranging over it yields nothing instead, so poll again.
  endpoints=$(k -n "$ns" get endpointslices -l kubernetes.io/service-name=web \
    -o 'jsonpath={range .items[*]}{range .endpoints[*]}{.conditions.ready} {.addresses[0]}{"\n"}{end}{end}' \
    | awk '$1 == "true" { print $2 }' | xargs) || endpoints=""
  [ "$(wc -w <<<"$endpoints")" = 2 ] && break
  sleep 1
done
[ "$(wc -w <<<"$endpoints")" = 2 ] || fail "service web has endpoints '$endpoints', want the 2 pod IPs as ready endpoints"
step "service web: nodePort $node_port, endpoints $endpoints"

logs=$(k -n "$ns" logs "deployment/web" 2>&1) || fail "kubectl logs deployment/web failed"
grep -q "simulated container" <<<"$logs" || fail "kubectl logs returned '$logs'"
step "kubectl logs answers through the simulated kubelet"

# The bearer token and CA that k8s-up.sh leaves for KUBERNETES_HOST-style clients work too.
server=$(k config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$k8s_state/ca.crt" \
  -H "Authorization: Bearer $(cat "$k8s_state/token")" "$server/api/v1/namespaces/$ns/pods") \
  || fail "curl with the bearer token to $server failed"
[ "$code" = 200 ] || fail "GET pods with the bearer token answered HTTP $code, want 200"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$k8s_state/ca.crt" \
  -H "Authorization: Bearer wrong" "$server/api/v1/namespaces/$ns/pods") || true
[ "$code" = 401 ] || fail "GET pods with a wrong token answered HTTP $code, want 401"
step "bearer token from $k8s_state/token accepted, a wrong one refused (401)"

step "checking PodSecurity: a privileged pod in a 'restricted' namespace is rejected"
k create namespace locked >/dev/null
k label namespace locked pod-security.kubernetes.io/enforce=restricted >/dev/null
if out=$(k -n locked run priv --image=registry.invalid/x:1 --restart=Never \
  --overrides='{"spec":{"containers":[{"name":"priv","image":"registry.invalid/x:1","securityContext":{"privileged":true}}]}}' 2>&1); then
  fail "privileged pod was admitted in a restricted namespace: $out"
fi
grep -q 'violates PodSecurity "restricted' <<<"$out" || fail "unexpected rejection: $out"

step "deleting the Deployment; its pods must go"
k -n "$ns" delete deployment web --wait=true --timeout=60s >/dev/null
gone=0
for _ in $(seq 1 60); do
  if [ -z "$(k -n "$ns" get pods -l app=web -o name)" ]; then gone=1; break; fi
  sleep 1
done
[ "$gone" = 1 ] || fail "pods of deployment web still exist 60s after deleting it"
k delete namespace "$ns" locked --wait=false >/dev/null

step "stopping the control plane"
trap - EXIT
scripts/k8s-down.sh
for cmd in /proc/[0-9]*/cmdline; do
  if tr '\0' ' ' 2>/dev/null <"$cmd" | grep -q -- "^$k8s_bin/.*$k8s_state/"; then
    fail "a control-plane process is still running after k8s-down: $(tr '\0' ' ' <"$cmd")"
  fi
done
[ ! -e "$k8s_state" ] || fail "$k8s_state still exists after k8s-down"
echo "k8s-smoke: 1 passed, 0 failed"
