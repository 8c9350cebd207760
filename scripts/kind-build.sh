#!/usr/bin/env bash
# Builds, on a machine that can reach no container registry, everything the kind tier
# needs, into the project's own Docker engine (scripts/docker-up.sh) and
# ${CASCADE_CACHE}/kind:
#   - kind itself, and crictl, coredns, pause, cascade-podnet (Go modules in k8s/kind,
#     k8s/crictl, k8s/coredns, k8s/pause, k8s/podnet; kubelet, kubeadm, kube-proxy, etcd
#     come from scripts/k8s-build.sh);
#   - a Debian bookworm base from debootstrap (the machine's apt mirror);
#   - the images kubeadm v1.33 runs, under the names it expects (registry.k8s.io/...);
#   - the kind node image (k8s/kind-node: systemd, containerd, the kubelet, the images);
#   - local stand-ins for the Dockerfile's base images (a Rust toolchain image and a
#     distroless-like runtime), passed to `docker build` as build arguments;
#   - with --minikube, also minikube (k8s/minikube, its version stamped) and its node
#     image (k8s/minikube-node: the kind node image plus what minikube provisions
#     through), in place of kicbase.
# Every output is keyed by what it is made from, so a warm run takes seconds. Prints the
# environment for the kind tier last (also in ${CASCADE_CACHE}/kind/env).
#
# Usage: scripts/kind-build.sh [--minikube] [--check]
#   --minikube  also build minikube and its node image (the minikube tier)
#   --check     only report: exit 0 when every output is built and current, 1 otherwise
# Env: CASCADE_KIND_ENV=FILE writes the environment there instead of
#      ${CASCADE_CACHE}/kind/env and removes no older image: a changed node image can be
#      tried (LAB_KIND_IMAGE from FILE) while others' clusters keep the current one.
# A user with ordinary Docker and internet needs none of this: stock kind pulls
# kindest/node, and the Dockerfile's defaults pull the official base images.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need-programs.sh

check=0
minikube=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --minikube) minikube=1 ;;
    -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kind-build: unknown argument '$arg' (expected --minikube or --check)" >&2; exit 2 ;;
  esac
done

# Bump when the way an output is made changes in a way its inputs do not show.
recipe=1
k8s_version=v1.33.13
cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}"
kcache="$cache/kind"
k8s_bin="$cache/k8s/bin"
mkdir -p "$kcache"
env_file="${CASCADE_KIND_ENV:-$kcache/env}"

started=$(date +%s)
say() { echo "kind-build: [$(($(date +%s) - started))s] $*" >&2; }
die() { echo "kind-build: error: $*" >&2; exit 1; }
# A short content key of the given files (and of the recipe).
key_of() { { echo "recipe=$recipe"; cat "$@"; } | sha256sum | cut -c1-12; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# prune_old TAG: removes the other tags of TAG's repository (outputs of older inputs), so
# the engine's data root does not grow with every change. An image still in use stays.
prune_old() {
  local repo=${1%:*} old
  for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    [ "$old" = "$1" ] || docker rmi "$old" >/dev/null 2>&1 || true
  done
}
# quiet_build TAG ARGS...: docker build -q, its output shown only when it fails.
quiet_build() {
  local tag=$1 log="$kcache/last-build.log"
  shift
  if docker build -q -t "$tag" "$@" >"$log" 2>&1; then return 0; fi
  grep -v -e '^DEPRECATED: The legacy builder' -e 'Install the buildx component' -e 'docs.docker.com/go/buildx' "$log" >&2
  return 1
}

if [ "$check" = 1 ]; then
  [ -f "$env_file" ] || { echo "kind-build: not built (no $env_file)"; exit 1; }
  # shellcheck disable=SC1090,SC1091
  . "$env_file"
  . scripts/docker-env.sh
  docker_alive || { echo "kind-build: the project's Docker engine is not running"; exit 1; }
  for img in "$LAB_KIND_IMAGE" "${LAB_BUILD_ARGS_RUST_IMAGE:-}" "${LAB_BUILD_ARGS_RUNTIME_IMAGE:-}"; do
    [ -z "$img" ] || have_image "$img" || { echo "kind-build: image $img is missing"; exit 1; }
  done
  [ -x "$KIND_BIN" ] || { echo "kind-build: $KIND_BIN is missing"; exit 1; }
  if [ "$minikube" = 1 ]; then
    [ -n "${LAB_MINIKUBE_IMAGE:-}" ] || { echo "kind-build: minikube not built (no LAB_MINIKUBE_IMAGE in $kcache/env)"; exit 1; }
    have_image "$LAB_MINIKUBE_IMAGE" || { echo "kind-build: image $LAB_MINIKUBE_IMAGE is missing"; exit 1; }
    [ -x "$MINIKUBE_BIN" ] || { echo "kind-build: $MINIKUBE_BIN is missing"; exit 1; }
  fi
  echo "kind-build: up to date"
  exit 0
fi

# --- the engine, and the host programs the build uses ---------------------------------
eval "$(scripts/docker-up.sh)"
. scripts/docker-env.sh
need_programs kind-build debootstrap:debootstrap

# --- Go programs -----------------------------------------------------------------------
say "Kubernetes programs (scripts/k8s-build.sh)"
scripts/k8s-build.sh >&2
export GOPATH="$cache/k8s/gopath" GOMODCACHE="$cache/k8s/gomodcache" GOCACHE="$cache/k8s/gocache"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
gobin="$kcache/bin"
mkdir -p "$gobin"
# go_program NAME MODULE-DIR PACKAGE [LDFLAGS]: builds when the module's pins changed.
go_program() {
  local name=$1 dir=$2 pkg=$3 ldflags="-s -w ${4:-}" key
  key=$(key_of "$dir"/go.* "$dir"/*.go)
  [ -z "${4:-}" ] || key=$(echo "$key $4" | key_of -)
  if [ -x "$gobin/$name" ] && [ "$(cat "$gobin/.$name.key" 2>/dev/null)" = "$key" ]; then return; fi
  say "building $name ($pkg)"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$gobin/$name.new" "$pkg") \
    || die "go build of $name failed (output above)"
  mv "$gobin/$name.new" "$gobin/$name"
  echo "$key" >"$gobin/.$name.key"
}
go_program kind k8s/kind sigs.k8s.io/kind
go_program crictl k8s/crictl sigs.k8s.io/cri-tools/cmd/crictl
go_program coredns k8s/coredns github.com/coredns/coredns
go_program etcd k8s/etcd go.etcd.io/etcd/server/v3
go_program pause k8s/pause .
go_program podnet k8s/podnet .
if [ "$minikube" = 1 ]; then
  # Stamped as minikube's own Makefile does (a bare build calls itself v0.0.0-unset).
  minikube_version=$(awk '$1 == "k8s.io/minikube" { print $2 }' k8s/minikube/go.mod)
  say "minikube $minikube_version (about 4 minutes the first time on 2 cores)"
  go_program minikube k8s/minikube k8s.io/minikube/cmd/minikube \
    "-X k8s.io/minikube/pkg/version.version=$minikube_version -X k8s.io/minikube/pkg/version.isoVersion=$minikube_version -X k8s.io/minikube/pkg/version.storageProvisionerVersion=v5"
fi

# The image tags kubeadm asks for, from kubeadm itself.
images_wanted=$("$k8s_bin/kubeadm" config images list --kubernetes-version "$k8s_version" 2>/dev/null) \
  || die "kubeadm config images list failed"
tag_of() { grep "/$1:" <<<"$images_wanted" | head -n1; }
etcd_tag=$(tag_of etcd); coredns_tag=$(tag_of coredns); pause_tag=$(tag_of pause)
etcd_want=${etcd_tag##*:}; etcd_want=${etcd_want%-*}
etcd_have=$("$gobin/etcd" --version | awk '/^etcd Version:/ { print $3 }')
[ "$etcd_have" = "$etcd_want" ] \
  || die "kubeadm $k8s_version wants etcd $etcd_want, k8s/etcd builds $etcd_have: change k8s/etcd/go.mod"

# --- Debian base -----------------------------------------------------------------------
# The machine's own Debian mirror (deb822 or one-line sources), or CASCADE_DEBIAN_MIRROR.
debian_mirror() {
  if [ -n "${CASCADE_DEBIAN_MIRROR:-}" ]; then echo "$CASCADE_DEBIAN_MIRROR"; return; fi
  local url
  url=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
  [ -n "$url" ] || url=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
  [ -n "$url" ] || die "no Debian mirror in /etc/apt/sources.list*; set CASCADE_DEBIAN_MIRROR"
  echo "$url"
}
base_packages=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,iptables,nftables,conntrack,iproute2,ethtool,kmod,libseccomp2,pigz,e2fsprogs,ca-certificates,curl,jq,procps,socat,util-linux,mount
base_key=$(echo "bookworm minbase $base_packages" | key_of -)
base_image="cascade-lab-local/bookworm:$base_key"
if ! have_image "$base_image"; then
  mirror=$(debian_mirror)
  root="$kcache/rootfs.tmp"
  rm -rf "$root"
  say "debootstrap bookworm (minbase + node packages) from the machine's Debian mirror (~3-4 min cold)"
  debootstrap --variant=minbase --include="$base_packages" bookworm "$root" "$mirror" \
    >"$kcache/debootstrap.log" 2>&1 || { tail -n 20 "$kcache/debootstrap.log" >&2; die "debootstrap failed (log: $kcache/debootstrap.log)"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  say "importing the base as $base_image"
  tar -C "$root" -c . | docker import - "$base_image" >/dev/null || die "docker import failed"
  rm -rf "$root"
fi

# --- images kubeadm runs -------------------------------------------------------------
# image TAG DOCKERFILE-TEXT FILE...: builds TAG from the given files (into a context of
# their basenames) unless an image built from the same inputs exists.
image() {
  local tag=$1 dockerfile=$2 key ctx
  shift 2
  key=$( { echo "$dockerfile"; for f in "$@"; do cat "$f"; done; } | key_of -)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "cascade-lab.key" }}' "$tag" 2>/dev/null)" = "$key" ]; then
    return
  fi
  say "building image $tag"
  ctx=$(mktemp -d)
  cp "$@" "$ctx/"
  printf '%s\nLABEL cascade-lab.key=%s\n' "$dockerfile" "$key" >"$ctx/Dockerfile"
  quiet_build "$tag" "$ctx" || { rm -rf "$ctx"; die "docker build of $tag failed"; }
  rm -rf "$ctx"
}
for p in kube-apiserver kube-controller-manager kube-scheduler; do
  image "$(tag_of "$p")" "FROM scratch
COPY $p /usr/local/bin/$p" "$k8s_bin/$p"
done
# kube-proxy programs iptables: it needs the tools and their libraries, so the Debian base.
image "$(tag_of kube-proxy)" "FROM $base_image
COPY kube-proxy /usr/local/bin/kube-proxy" "$k8s_bin/kube-proxy"
image "$etcd_tag" "FROM scratch
COPY etcd /usr/local/bin/etcd" "$gobin/etcd"
image "$coredns_tag" "FROM scratch
COPY coredns /coredns
ENTRYPOINT [\"/coredns\"]" "$gobin/coredns"
image "$pause_tag" "FROM scratch
COPY pause /pause
ENTRYPOINT [\"/pause\"]" "$gobin/pause"
# The pod network agent (k8s/podnet), on the Debian base for ip and iptables; the node's
# /kind/manifests/default-cni.yaml runs it by this name.
podnet_tag=cascade-lab-local/podnet:node-image
image "$podnet_tag" "FROM $base_image
COPY podnet /usr/local/bin/cascade-podnet
ENTRYPOINT [\"/usr/local/bin/cascade-podnet\"]" "$gobin/podnet"
[ "$pause_tag" = registry.k8s.io/pause:3.10 ] \
  || die "kubeadm wants $pause_tag; k8s/kind-node/rootfs/etc/containerd/config.toml names pause:3.10"

# --- the node image --------------------------------------------------------------------
kube_tags="$images_wanted $podnet_tag"
node_inputs=()
while IFS= read -r f; do node_inputs+=("$f"); done < <(find k8s/kind-node -type f | sort)
node_key=$( {
  echo "$base_image"
  for t in $kube_tags; do docker image inspect -f '{{ .Id }}' "$t"; done
  for f in "${node_inputs[@]}" "$k8s_bin/kubelet" "$k8s_bin/kubeadm" "$k8s_bin/kubectl" "$gobin/crictl"; do
    echo "$f"; cat "$f"
  done
} | key_of -)
node_image="cascade-lab-local/kind-node:$k8s_version-$node_key"
if ! have_image "$node_image"; then
  say "assembling the node image $node_image"
  work=$(mktemp -d)
  trap 'rm -rf "$work"; docker rm -f cascade-kind-node-build >/dev/null 2>&1 || true' EXIT
  # shellcheck disable=SC2086
  docker save -o "$work/images.tar" $kube_tags || die "docker save failed"
  mkdir -p "$work/rootfs/usr/bin"
  cp -a k8s/kind-node/rootfs/. "$work/rootfs/"
  cp "$k8s_bin/kubelet" "$k8s_bin/kubeadm" "$k8s_bin/kubectl" "$gobin/crictl" "$work/rootfs/usr/bin/"
  docker rm -f cascade-kind-node-build >/dev/null 2>&1 || true
  # The build container runs containerd just long enough to import the images into its
  # k8s.io namespace (pinned, so the kubelet never collects them).
  docker create --name cascade-kind-node-build --privileged --entrypoint sleep \
    "$base_image" infinity >/dev/null || die "docker create failed"
  docker cp "$work/rootfs/." cascade-kind-node-build:/ || die "docker cp of the node files failed"
  docker cp "$work/images.tar" cascade-kind-node-build:/kind/images.tar || die "docker cp of the images failed"
  docker start cascade-kind-node-build >/dev/null || die "cannot start the build container"
  docker exec cascade-kind-node-build sh -euc '
    ln -sfn /usr/lib/cni /opt/cni/bin 2>/dev/null || { mkdir -p /opt/cni; ln -sfn /usr/lib/cni /opt/cni/bin; }
    systemctl enable containerd.service kubelet.service >/dev/null 2>&1
    mkdir -p /var/lib/kubelet /etc/kubernetes/manifests /etc/cni/net.d
    containerd >/tmp/containerd.log 2>&1 &
    containerd_pid=$!
    for _ in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
    ctr -n k8s.io images import --all-platforms --no-unpack --digests /kind/images.tar >/dev/null
    for ref in $(ctr -n k8s.io images ls -q | grep -v "^sha256:"); do
      ctr -n k8s.io images label "$ref" io.cri-containerd.pinned=pinned >/dev/null
    done
    ctr -n k8s.io images ls -q
    kill "$containerd_pid"; wait "$containerd_pid" || true
    rm -f /kind/images.tar /tmp/containerd.log
  ' >"$work/imported" || die "importing the images into the node's containerd failed"
  say "node's containerd holds: $(grep -vc '^sha256:' "$work/imported") images"
  docker stop -t 1 cascade-kind-node-build >/dev/null
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint"]' --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=docker' \
    cascade-kind-node-build "$node_image.tmp" >/dev/null || die "docker commit failed"
  # docker commit cannot set STOPSIGNAL: one more layer does (systemd stops on SIGRTMIN+3).
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$node_image.tmp" \
    | quiet_build "$node_image" - || die "docker build of the STOPSIGNAL layer failed"
  docker rmi "$node_image.tmp" >/dev/null
  docker rm -f cascade-kind-node-build >/dev/null
  rm -rf "$work"
  trap - EXIT
fi

# --- minikube's node image -------------------------------------------------------------
minikube_image=""
if [ "$minikube" = 1 ]; then
  minikube_key=$( { echo "$node_image $base_image"; cat k8s/minikube-node/Dockerfile; } | key_of -)
  minikube_image="cascade-lab-local/minikube-node:$k8s_version-$minikube_key"
  if ! have_image "$minikube_image"; then
    say "building the minikube node image $minikube_image (on the kind node image)"
    # The label tells `lab up --target minikube` which Kubernetes the image holds.
    quiet_build "$minikube_image" --network host \
      --build-arg "BASE_IMAGE=$base_image" --build-arg "NODE_IMAGE=$node_image" \
      --build-arg "KUBERNETES_VERSION=$k8s_version" \
      --label "cascade-lab.kubernetes-version=$k8s_version" \
      k8s/minikube-node || die "docker build of $minikube_image failed"
  fi
fi

# --- stand-ins for the Dockerfile's base images ----------------------------------------
# The Rust toolchain this machine builds with, on the Debian base with a C toolchain,
# trusting what this machine trusts (its CA bundle: crates.io may be reached through a
# TLS-inspecting proxy whose CA only the machine knows).
toolchain=$(rustc --print sysroot)
rust_release=$(rustc --version | awk '{ print $2 }')
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || die "no CA bundle at $ca_bundle (apt-get install ca-certificates)"
rust_key=$( { echo "$base_image $(rustc --version --verbose)"; cat "$ca_bundle"; } | key_of -)
rust_image="cascade-lab-local/rust:$rust_release-bookworm-$rust_key"
if ! have_image "$rust_image"; then
  say "building $rust_image (Debian base + gcc + this machine's Rust $rust_release)"
  work=$(mktemp -d)
  # Docs and sources are not needed to build.
  tar -C "$toolchain" --exclude=./share/doc --exclude=./lib/rustlib/src -c . | (mkdir -p "$work/toolchain" && tar -C "$work/toolchain" -x)
  cp "$ca_bundle" "$work/ca-certificates.crt"
  cat >"$work/Dockerfile" <<EOF
FROM $base_image
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY toolchain /usr/local/rust
ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    CARGO_HOME=/usr/local/cargo
EOF
  quiet_build "$rust_image" --network host "$work" || { rm -rf "$work"; die "docker build of $rust_image failed"; }
  rm -rf "$work"
fi
# Like gcr.io/distroless/cc-debian12:nonroot: glibc, libgcc, CA certificates, the
# nonroot user (65532), no shell.
runtime_image="cascade-lab-local/cc-runtime:bookworm-$base_key"
if ! have_image "$runtime_image"; then
  say "building $runtime_image"
  printf '%s\n' \
    "FROM $base_image AS debian" \
    "RUN mkdir -p /out/etc /out/lib/x86_64-linux-gnu /out/lib64 /out/tmp /out/home/nonroot && chmod 1777 /out/tmp \\" \
    " && cp -a /lib/x86_64-linux-gnu/libc.so* /lib/x86_64-linux-gnu/libm.so* /lib/x86_64-linux-gnu/libgcc_s.so* /lib/x86_64-linux-gnu/ld-linux-x86-64.so* /out/lib/x86_64-linux-gnu/ \\" \
    " && cp -a /lib64/ld-linux-x86-64.so.2 /out/lib64/ && cp -a --parents /etc/ssl/certs /usr/share/ca-certificates /out/ \\" \
    " && printf 'root:x:0:0:root:/root:/sbin/nologin\\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\\n' >/out/etc/passwd \\" \
    " && printf 'root:x:0:\\nnonroot:x:65532:\\n' >/out/etc/group && chown 65532:65532 /out/home/nonroot" \
    "FROM scratch" \
    "COPY --from=debian /out/ /" \
    "USER 65532:65532" \
    | quiet_build "$runtime_image" - || die "docker build of $runtime_image failed"
fi

if [ -z "${CASCADE_KIND_ENV:-}" ]; then
  for current in "$node_image" "$rust_image" "$runtime_image" "$base_image" $minikube_image; do
    prune_old "$current"
  done
fi

{
  echo "# The kind tier's environment (scripts/kind-build.sh); source it."
  echo "export DOCKER_HOST=$DOCKER_HOST"
  echo "export KIND_BIN=$gobin/kind"
  echo "export PATH=$gobin:$k8s_bin:\$PATH"
  echo "export LAB_KIND_IMAGE=$node_image"
  echo "export LAB_BUILD_NETWORK=host"
  echo "export LAB_BUILD_ARGS=RUST_IMAGE=$rust_image,RUNTIME_IMAGE=$runtime_image"
  echo "export LAB_BUILD_ARGS_RUST_IMAGE=$rust_image LAB_BUILD_ARGS_RUNTIME_IMAGE=$runtime_image"
  if [ "$minikube" = 1 ]; then
    echo "export MINIKUBE_BIN=$gobin/minikube"
    echo "export MINIKUBE_HOME=$cache/minikube"
    echo "export LAB_MINIKUBE_IMAGE=$minikube_image"
  fi
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
say "done: node image $node_image"
cat "$env_file"
