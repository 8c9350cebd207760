#!/usr/bin/env bash
# Builds the real Toxiproxy server (the reference the fault proxy is compared with, in the
# compatibility tier and bench/proxy.sh) from the Go module proxy into the Cascade cache.
# Idempotent: an existing build of the pinned version is reused (about 25 s the first
# time on 2 cores). The last line printed is the path of the `toxiproxy-server` binary.
set -euo pipefail

version="v2.5.0"
cache="${CASCADE_CACHE:-$HOME/.cache/cascade-lab}/toxiproxy"
bin="$cache/bin/toxiproxy-server-$version"

if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || { echo "setup-toxiproxy: the Go toolchain is not on PATH" >&2; exit 1; }
  mkdir -p "$cache/bin"
  # Module, build and download caches beside the binary; never fetch another toolchain.
  export GOPATH="$cache/gopath" GOMODCACHE="$cache/gomodcache" GOCACHE="$cache/gocache"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$cache/gobin-$version"
  go install "github.com/Shopify/toxiproxy/v2/cmd/server@$version" >&2
  mv "$GOBIN/server" "$bin.tmp" && mv "$bin.tmp" "$bin"
fi
echo "$bin"
