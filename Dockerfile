# One Dockerfile, three images: pick one with --target (run from the repository root):
#   docker build --target provider-app -t cascade-lab/provider-app:dev .
#   docker build --target consumer-app -t cascade-lab/consumer-app:dev .
#   docker build --target fault-proxy -t cascade-lab/fault-proxy:dev .
#   docker build --target chaos-runner -t cascade-lab/chaos-runner:dev .
# The targets share the builder stages, so later builds reuse the first's layers
# (one dependency build, one compile of every binary).

# Match the toolchain the workspace is developed with (rust-version in Cargo.toml is the floor).
ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.77
# The base images, as build arguments only so that a machine with no registry can name
# local equivalents (scripts/kind-build.sh makes them for the offline kind tier); leave
# them alone otherwise.
ARG RUST_IMAGE=rust:${RUST_VERSION}-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# --- builder stages: Debian bookworm, the same glibc as the distroless runtime below ---
FROM ${RUST_IMAGE} AS chef
ARG CARGO_CHEF_VERSION
# cargo-chef splits "build the dependencies" (slow, changes rarely) from "build our code".
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# The recipe is only the workspace's Cargo.toml files and Cargo.lock: it changes when a
# dependency changes, not when our code does.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependency layer: rebuilt only when recipe.json changes.
RUN cargo chef cook --release --locked --recipe-path recipe.json \
      --package provider-app --package consumer-app --package fault-proxy
COPY . .
RUN cargo build --release --locked --package provider-app --package consumer-app \
      --package fault-proxy --bins \
    && mkdir -p /out \
    && cp target/release/provider-app target/release/consumer-app \
      target/release/fault-proxy /out/

# --- runtime images: glibc and CA certificates only, no shell, user 65532 (nonroot) ---
FROM ${RUNTIME_IMAGE} AS provider-app
COPY --from=builder /out/provider-app /usr/local/bin/provider-app
USER 65532:65532
# BIND defaults to 0.0.0.0:8080 (docs/contracts.md).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/provider-app"]

FROM ${RUNTIME_IMAGE} AS consumer-app
COPY --from=builder /out/consumer-app /usr/local/bin/consumer-app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/consumer-app"]

FROM ${RUNTIME_IMAGE} AS fault-proxy
COPY --from=builder /out/fault-proxy /usr/local/bin/fault-proxy
USER 65532:65532
# The API (8474, Toxiproxy's port). Off loopback it needs a token (FAULT_PROXY_API_TOKEN
# with `-host 0.0.0.0`); manifests/components/fault-proxy keeps it on the pod's loopback
# and reaches it through `kubectl port-forward` instead. Proxies listen on the ports
# their API calls (or -config) give.
EXPOSE 8474
ENTRYPOINT ["/usr/local/bin/fault-proxy"]

# --- the chaos runner, for experiments run from inside the cluster (manifests/in-cluster) ---
# A builder of its own: chaos-runner's dependencies (kube-rs, the native chaosk8s) are
# not the services', so the services' images never wait for them, nor they for the
# services' code.
FROM chef AS runner-builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package chaos-runner
COPY . .
RUN cargo build --release --locked --package chaos-runner --bin chaos-runner \
    && mkdir -p /out && cp target/release/chaos-runner /out/

# No Python in it: `python` providers other than chaosk8s.* cannot run here. The root
# filesystem may be read-only: the runner writes only its journal and log, to a mounted
# directory (/work in the Job, an emptyDir), and reads the experiment from a ConfigMap.
FROM ${RUNTIME_IMAGE} AS chaos-runner
COPY --from=runner-builder /out/chaos-runner /usr/local/bin/chaos-runner
USER 65532:65532
WORKDIR /work
# The kubeconfig-less in-cluster access of chaosk8s (the pod's ServiceAccount).
ENV CHAOSTOOLKIT_IN_POD=true
ENTRYPOINT ["/usr/local/bin/chaos-runner"]
