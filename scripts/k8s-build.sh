#!/usr/bin/env bash
# Builds the Kubernetes programs the tests run from the upstream Go modules pinned in
# k8s/controlplane (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd
# for the host control plane; kubelet, kubeadm, kube-proxy for the kind node image) and
# k8s/kwok (kwok, the simulated node), into ${CASCADE_CACHE}/k8s/bin.
#
# Usage: scripts/k8s-build.sh [--check | --force]
#   (none)   build unless the binaries there already match the pinned versions
#   --check  only report: exit 0 when built and current, 1 otherwise
#   --force  rebuild even when current
# Env: CASCADE_CACHE (default ~/.cache/cascade-lab), K8S_BUILD_JOBS (go build -p).
#
# Go module, build and download caches live under the same folder, so a second run
# (or CI on the same machine) reuses everything and finishes in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need-programs.sh

# Bump when the way binaries are built changes, so old builds are not taken as current.
recipe=1

cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/k8s"
bin="$cache/bin"
stamp_file="$bin/.stamp"

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --force) mode=force ;;
  -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "k8s-build: unknown argument '$1' (expected --check or --force)" >&2; exit 2 ;;
esac

programs=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kubeadm kube-proxy kwok)

say() { echo "k8s-build: $*"; }
die() { echo "k8s-build: error: $*" >&2; exit 1; }

# Programs k8s-up.sh needs besides the ones built here: install the missing ones when we
# may (root with apt-get, as on CI), else say exactly what to install.
if [ "$mode" != check ]; then
  need_programs k8s-build openssl:openssl curl:curl ss:iproute2 flock:util-linux
fi

export GOPATH="$cache/gopath" GOMODCACHE="$cache/gomodcache" GOCACHE="$cache/gocache"
# Never fetch another toolchain (only the module proxy is reachable); build static
# binaries so no C compiler is needed.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

command -v go >/dev/null 2>&1 \
  || die "the Go toolchain (go >= 1.24) is not on PATH; it is needed to build Kubernetes"
go_version=$(go env GOVERSION)
case "$go_version" in
  go1.2[4-9]* | go1.[3-9][0-9]*) ;;
  *) die "found $go_version, but k8s.io/kubernetes v1.33 needs go >= 1.24" ;;
esac

# The stamp names what decides the binaries: the pinned modules and the recipe. Not the Go
# patch version: a toolchain update alone should not cost a cold rebuild.
current_stamp() {
  {
    echo "recipe=$recipe"
    cat k8s/controlplane/go.mod k8s/controlplane/go.sum k8s/kwok/go.mod k8s/kwok/go.sum
  } | sha256sum | cut -d' ' -f1
}
want=$(current_stamp)

is_current() {
  [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ] || return 1
  local p
  for p in "${programs[@]}"; do [ -x "$bin/$p" ] || return 1; done
}

if [ "$mode" = check ]; then
  if is_current; then say "up to date in $bin"; exit 0; fi
  say "not built (or out of date) in $bin; run scripts/k8s-build.sh"
  exit 1
fi
if [ "$mode" = build ] && is_current; then
  say "already built and current in $bin"
  exit 0
fi

# One build at a time per cache (two k8s-up.sh runs may both get here).
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
  say "another k8s-build is running on $cache; waiting for it (up to 60 min)"
  flock -w 3600 9 || die "gave up waiting for the other build (lock $cache/.build.lock)"
  if [ "$mode" = build ] && is_current; then
    say "built by the other run; current in $bin"
    exit 0
  fi
fi
staging="$cache/bin.new"
rm -rf "$staging"
mkdir -p "$staging"
jobs=()
if [ -n "${K8S_BUILD_JOBS:-}" ]; then jobs=(-p "$K8S_BUILD_JOBS"); fi

started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started))s"; }

# Version data the upstream release build injects; without it the servers report
# v0.0.0-master and clients warn about version skew.
module_field() { (cd "$1" && go list -m -f "$3" "$2"); }
k8s_version=$(module_field k8s/controlplane k8s.io/kubernetes '{{.Version}}') \
  || die "cannot resolve k8s.io/kubernetes in k8s/controlplane/go.mod (see the go error above)"
k8s_time=$(module_field k8s/controlplane k8s.io/kubernetes '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}')
major=${k8s_version#v}; major=${major%%.*}
minor=${k8s_version#v*.}; minor=${minor%%.*}
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$k8s_time"
done

say "Go $go_version, Kubernetes $k8s_version; caches under $cache"
say "[$(elapsed)] downloading modules (skipped when cached)"
(cd k8s/controlplane && go mod download) || die "go mod download failed in k8s/controlplane"
(cd k8s/kwok && go mod download) || die "go mod download failed in k8s/kwok"

say "[$(elapsed)] building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kubeadm, kube-proxy (10-25 min cold on 2 cores)"
# One go build: the programs share most packages, so each is compiled once.
(cd k8s/controlplane && go build "${jobs[@]}" -trimpath -ldflags "$ld" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kubeadm \
  k8s.io/kubernetes/cmd/kube-proxy) || die "go build of the Kubernetes programs failed (output above)"

say "[$(elapsed)] building etcd"
(cd k8s/controlplane && go build "${jobs[@]}" -trimpath -ldflags "-s -w" -o "$staging/etcd" \
  go.etcd.io/etcd/server/v3) || die "go build of etcd failed (output above)"

say "[$(elapsed)] building kwok"
(cd k8s/kwok && go build "${jobs[@]}" -trimpath -ldflags "-s -w" -o "$staging/kwok" \
  sigs.k8s.io/kwok/cmd/kwok) || die "go build of kwok failed (output above)"

for p in "${programs[@]}"; do
  [ -x "$staging/$p" ] || die "build finished but $staging/$p is missing"
done
"$staging/kube-apiserver" --version | grep -q "$k8s_version" \
  || die "$staging/kube-apiserver does not report $k8s_version"

# Swap the finished set in at once, then stamp it, so an interrupted build is never
# mistaken for a complete one.
rm -rf "$bin"
mv "$staging" "$bin"
echo "$want" >"$stamp_file"
say "[$(elapsed)] done: ${programs[*]} in $bin"
