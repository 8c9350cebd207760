#!/usr/bin/env bash
# Starts a real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler (built from the upstream Go modules by
# k8s-build.sh) and kwok, which simulates one node so pods become Running with a pod IP.
#
# Usage: scripts/k8s-up.sh        (idempotent: a running control plane is left as it is)
# State (certificates, kubeconfig, etcd data, logs, pids) goes to ${LAB_STATE_DIR:-.lab}/k8s;
# scripts/k8s-down.sh stops everything and removes it. Ports: see scripts/k8s-env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/k8s-env.sh
. scripts/k8s-env.sh

say() { echo "k8s-up: $*"; }
die() { echo "k8s-up: error: $*" >&2; exit 1; }
started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started))s"; }
kubectl_() { "$k8s_bin/kubectl" --kubeconfig "$k8s_kubeconfig" --request-timeout=5s "$@"; }

command -v openssl >/dev/null 2>&1 || die "openssl is not installed (apt-get install -y openssl)"
command -v curl >/dev/null 2>&1 || die "curl is not installed (apt-get install -y curl)"
command -v ss >/dev/null 2>&1 || die "ss is not installed (apt-get install -y iproute2)"

# Builds (or says it is built) first: a cold build takes many minutes and has its own lock.
scripts/k8s-build.sh

# One k8s-up/k8s-down at a time per state folder.
mkdir -p "$k8s_state_root"
exec 9>"$k8s_state_root/.k8s.lock"
flock -w 300 9 || die "another k8s-up/k8s-down has held $k8s_state_root/.k8s.lock for 5 min"

# Already up? Then leave it alone; half up? Then start over.
running=0
for c in "${k8s_components[@]}"; do
  if k8s_running_pid "$c" >/dev/null; then running=$((running + 1)); fi
done
if [ "$running" = "${#k8s_components[@]}" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; then
  say "already up (state in $k8s_state)"
  echo "export KUBECONFIG=$k8s_kubeconfig"
  exit 0
fi
if [ "$running" -gt 0 ]; then
  say "found a partly running control plane ($running of ${#k8s_components[@]} processes); stopping it first"
  K8S_LOCK_HELD=1 scripts/k8s-down.sh
fi

for spec in "K8S_ETCD_PORT=$k8s_etcd_port" "K8S_ETCD_PEER_PORT=$k8s_etcd_peer_port" \
  "K8S_APISERVER_PORT=$k8s_apiserver_port" "K8S_KWOK_PORT=$k8s_kwok_port"; do
  port=${spec#*=}
  if [ -n "$(ss -Hltn "sport = :$port")" ]; then
    die "port $port (${spec%%=*}) is already in use (see 'ss -ltnp'); free it or set ${spec%%=*} to another port"
  fi
done

rm -rf "$k8s_state"
mkdir -p "$k8s_pki" "$k8s_logs" "$k8s_pids" "$k8s_state/kwok-home"
chmod 700 "$k8s_state"

# If anything below fails, stop what was started but keep the logs to read.
up_ok=0
on_exit() {
  if [ "$up_ok" != 1 ]; then
    local c pid
    for c in "${k8s_components[@]}"; do
      if pid=$(k8s_running_pid "$c"); then kill "$pid" 2>/dev/null || true; fi
    done
    echo "k8s-up: stopped the components started so far; logs are kept in $k8s_logs (scripts/k8s-down.sh removes them)" >&2
  fi
}
trap on_exit EXIT

### Certificates: one CA signs the serving certs and the client certs.
say "[$(elapsed)] generating certificates in $k8s_pki"
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k8s_pki/$1.key" 2>/dev/null; }
# sign NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
sign() {
  local name=$1 subject=$2 eku=$3 sans=${4:-}
  new_key "$name"
  openssl req -new -key "$k8s_pki/$name.key" -subj "$subject" -out "$k8s_pki/$name.csr"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    if [ -n "$sans" ]; then echo "subjectAltName=$sans"; fi
  } >"$k8s_pki/$name.ext"
  openssl x509 -req -in "$k8s_pki/$name.csr" -CA "$k8s_pki/ca.crt" -CAkey "$k8s_pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -extfile "$k8s_pki/$name.ext" \
    -out "$k8s_pki/$name.crt" 2>/dev/null
  rm -f "$k8s_pki/$name.csr" "$k8s_pki/$name.ext"
}
new_key ca
openssl req -x509 -new -key "$k8s_pki/ca.key" -subj "/CN=cascade-lab-ca" -days 3650 \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$k8s_pki/ca.crt"
sign apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=cascade-admin" clientAuth
sign controller-manager "/CN=system:kube-controller-manager" clientAuth
sign scheduler "/CN=system:kube-scheduler" clientAuth
sign kwok "/O=system:masters/CN=kwok" clientAuth
sign kwok-serving "/CN=$k8s_node_name" serverAuth "IP:127.0.0.1,DNS:$k8s_node_name"
sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
# Service-account tokens are signed with their own key pair.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$k8s_pki/sa.key" 2>/dev/null
openssl pkey -in "$k8s_pki/sa.key" -pubout -out "$k8s_pki/sa.pub"
# A static bearer token for clients that connect with KUBERNETES_HOST + a token.
token=$(openssl rand -hex 32)
echo "$token,cascade-admin-token,cascade-admin-token,\"system:masters\"" >"$k8s_pki/tokens.csv"
printf '%s\n' "$token" >"$k8s_state/token"
cp "$k8s_pki/ca.crt" "$k8s_state/ca.crt"
chmod 600 "$k8s_pki"/*.key "$k8s_pki/tokens.csv" "$k8s_state/token"

server="https://127.0.0.1:$k8s_apiserver_port"
b64() { base64 -w0 <"$1"; }
# write_kubeconfig FILE CERT_NAME
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cascade-lab
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$k8s_pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$k8s_pki/$2.crt")
    client-key-data: $(b64 "$k8s_pki/$2.key")
contexts:
- name: cascade-lab
  context:
    cluster: cascade-lab
    user: $2
    namespace: default
current-context: cascade-lab
EOF
  chmod 600 "$1"
}
write_kubeconfig "$k8s_kubeconfig" admin
for c in controller-manager scheduler kwok; do write_kubeconfig "$k8s_state/$c.kubeconfig" "$c"; done

### Processes
# start NAME ARGS...: runs $k8s_bin/NAME in its own session, logging to logs/NAME.log.
start() {
  local name=$1
  shift
  # fd 9 (our lock) is closed so the long-running servers do not keep holding it.
  setsid "$k8s_bin/$name" "$@" >"$k8s_logs/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$! i
  echo "$pid" >"$k8s_pids/$name.pid"
  # Until the forked shell has exec'd the binary, /proc/PID/cmdline is still the shell's,
  # and the liveness check would take the component for dead: wait for the exec (<= 5 s).
  for ((i = 0; i < 100; i++)); do
    if k8s_running_pid "$name" >/dev/null || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.05
  done
}
# wait_until WHAT SECONDS COMPONENT COMMAND...: polls COMMAND once a second; fails naming the
# log to read when it does not succeed in time (COMPONENT's) or a started component exits.
wait_until() {
  local what=$1 limit=$2 comp=$3 i pid_file c
  shift 3
  for ((i = 1; i <= limit; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for pid_file in "$k8s_pids"/*.pid; do
      c=$(basename "$pid_file" .pid)
      if ! k8s_running_pid "$c" >/dev/null; then
        echo "k8s-up: $c exited while waiting for $what; last lines of $k8s_logs/$c.log:" >&2
        tail -n 15 "$k8s_logs/$c.log" >&2 || true
        die "$c stopped unexpectedly (full log: $k8s_logs/$c.log)"
      fi
    done
    if ((i % 10 == 0)); then say "[$(elapsed)] still waiting for $what (${i}s of ${limit}s)"; fi
    sleep 1
  done
  echo "k8s-up: last lines of $k8s_logs/$comp.log:" >&2
  tail -n 15 "$k8s_logs/$comp.log" >&2 || true
  die "timed out after ${limit}s waiting for $what (full log: $k8s_logs/$comp.log)"
}

say "[$(elapsed)] starting etcd on 127.0.0.1:$k8s_etcd_port"
etcd_url="http://127.0.0.1:$k8s_etcd_port"
peer_url="http://127.0.0.1:$k8s_etcd_peer_port"
# --unsafe-no-fsync: the data is thrown away after the tests, so skip the disk syncs.
start etcd --name cascade-lab --data-dir "$k8s_state/etcd" \
  --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
  --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
  --initial-cluster "cascade-lab=$peer_url" --initial-cluster-state new \
  --unsafe-no-fsync --log-level warn
wait_until "etcd to be healthy" 30 etcd curl -fsS --max-time 2 "$etcd_url/health"

say "[$(elapsed)] starting kube-apiserver on $server"
# The endpoint reconciler is off: it would publish the advertise address (loopback here)
# as the endpoint of the 'kubernetes' Service, which validation rejects.
start kube-apiserver \
  --etcd-servers "$etcd_url" \
  --bind-address 127.0.0.1 --secure-port "$k8s_apiserver_port" \
  --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
  --tls-cert-file "$k8s_pki/apiserver.crt" --tls-private-key-file "$k8s_pki/apiserver.key" \
  --client-ca-file "$k8s_pki/ca.crt" --token-auth-file "$k8s_pki/tokens.csv" \
  --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$k8s_pki/sa.pub" \
  --service-account-signing-key-file "$k8s_pki/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 --service-node-port-range 30000-32767 \
  --kubelet-client-certificate "$k8s_pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$k8s_pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --allow-privileged=true --profiling=false --v=1
wait_until "kube-apiserver /readyz" 180 kube-apiserver kubectl_ get --raw /readyz

say "[$(elapsed)] registering the simulated node $k8s_node_name (InternalIP 127.0.0.1)"
kubectl_ apply -f - >/dev/null <<EOF || die "could not create Node $k8s_node_name (see $k8s_logs/kube-apiserver.log)"
apiVersion: v1
kind: Node
metadata:
  name: $k8s_node_name
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $k8s_node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  addresses:
  - type: InternalIP
    address: 127.0.0.1
  - type: Hostname
    address: $k8s_node_name
  allocatable: {cpu: "32", memory: 64Gi, pods: "110"}
  capacity: {cpu: "32", memory: 64Gi, pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: kwok
    kubeProxyVersion: kwok
EOF

say "[$(elapsed)] starting kube-controller-manager, kube-scheduler and kwok"
# Secure ports 0: their own HTTPS endpoints are not needed; health is checked via the API.
start kube-controller-manager \
  --kubeconfig "$k8s_state/controller-manager.kubeconfig" \
  --secure-port 0 --use-service-account-credentials \
  --service-account-private-key-file "$k8s_pki/sa.key" --root-ca-file "$k8s_pki/ca.crt" \
  --cluster-signing-cert-file "$k8s_pki/ca.crt" --cluster-signing-key-file "$k8s_pki/ca.key" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --profiling=false --v=1
start kube-scheduler \
  --kubeconfig "$k8s_state/scheduler.kubeconfig" \
  --secure-port 0 --profiling=false --v=1

# kwok renews the node's Lease in kube-node-lease like a kubelet (40 s leases, renewed
# every 10 s) and posts node status heartbeats, so the node stays Ready for hours.
# kwok reads ~/.kwok/kwok.yaml when present; give it a private HOME so only our
# configuration counts. The ClusterLogs object makes `kubectl logs` answer for every pod.
# The file is in the CRI container-log format the kubelet serves: time, stream, tag, line.
printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" \
  "simulated container (kwok): this pod has no real process; its node is simulated" \
  >"$k8s_state/pod.log"
cat >"$k8s_state/kwok.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: all-pods
spec:
  selector: {}
  logs:
  - logsFile: $k8s_state/pod.log
    follow: false
EOF
HOME="$k8s_state/kwok-home" start kwok \
  --kubeconfig "$k8s_state/kwok.kubeconfig" --config "$k8s_state/kwok.yaml" \
  --manage-single-node "$k8s_node_name" \
  --node-ip 127.0.0.1 --node-port "$k8s_kwok_port" --cidr 10.244.0.1/24 \
  --node-lease-duration-seconds 40 \
  --server-address "127.0.0.1:$k8s_kwok_port" \
  --tls-cert-file "$k8s_pki/kwok-serving.crt" --tls-private-key-file "$k8s_pki/kwok-serving.key"

node_ready() {
  [ "$(kubectl_ get node "$k8s_node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_until "node $k8s_node_name to be Ready" 90 kwok node_ready
wait_until "kwok to hold the node's lease" 60 kwok kubectl_ -n kube-node-lease get lease "$k8s_node_name"
wait_until "the default ServiceAccount in namespace default" 90 kube-controller-manager \
  kubectl_ -n default get serviceaccount default
scheduler_leads() {
  [ -n "$(kubectl_ -n kube-system get lease kube-scheduler -o 'jsonpath={.spec.holderIdentity}')" ]
}
wait_until "kube-scheduler to take its leader lease" 90 kube-scheduler scheduler_leads

up_ok=1
say "[$(elapsed)] control plane ready: $("$k8s_bin/kubectl" version --kubeconfig "$k8s_kubeconfig" -o json \
  | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1) at $server, node $k8s_node_name Ready"
say "logs in $k8s_logs; bearer token in $k8s_state/token, CA in $k8s_state/ca.crt"
echo "export KUBECONFIG=$k8s_kubeconfig"
