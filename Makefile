# Cascade Lab: the two commands a new user runs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# Builds live outside the clone so every checkout (and CI) reuses them.
export CASCADE_CACHE ?= $(HOME)/.cache/cascade-lab
export CARGO_TARGET_DIR ?= $(CASCADE_CACHE)/target
BIN := $(CARGO_TARGET_DIR)/release
LAB := $(BIN)/lab
# Where the lab runs: local, kind, minikube or cluster. Empty: the running lab's target,
# else local. NAMESPACE and IMAGE_REGISTRY (cluster target) are for Kubernetes targets.
TARGET ?=
NAMESPACE ?=
IMAGE_REGISTRY ?=
LAB_FLAGS = $(if $(TARGET),--target $(TARGET)) $(if $(NAMESPACE),--namespace $(NAMESPACE))
# On Kubernetes the tutorial's experiment.json runs (lab up wrote the consumer's address
# into it); locally, experiments/local.json with the address from `lab address`.
EXPERIMENT ?= $(if $(filter-out local,$(TARGET)),experiment.json,experiments/local.json)
PAUSE ?= 2

.PHONY: all build release demo test check lint fmt lab-up lab-down experiment fix break status \
        k8s-build k8s-up k8s-down k8s-smoke kind-build kind-up kind-down kind-test \
        minikube-build minikube-test clean

all: build

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --workspace --bins

## The main job: the cascading failure and its fix, narrated, on local processes. Builds
## only what it runs (no Kubernetes support) in the quick-to-build `demo` profile.
demo:
	@dir=$$(scripts/demo-build.sh) && "$$dir/lab" demo --pause $(PAUSE)

## Every test tier, each set up first; ends with one line per tier (xtask/: `cargo xtask
## test --tier NAME` runs one; `cargo xtask tiers` lists them).
test:
	$(CARGO) xtask test

## The edit-test loop: formatting, clippy, unit and local integration tests.
check:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

lab-up: release
	$(LAB) up $(LAB_FLAGS) $(if $(IMAGE_REGISTRY),--image-registry $(IMAGE_REGISTRY))

lab-down: release
	$(LAB) down $(LAB_FLAGS)

status: release
	$(LAB) status $(LAB_FLAGS)

experiment: release
	PATH="$(BIN):$$PATH" CONSUMER_URL="$$($(LAB) address $(LAB_FLAGS))" $(BIN)/chaos-runner run $(EXPERIMENT)

fix: release
	$(LAB) fix $(LAB_FLAGS)

break: release
	$(LAB) break $(LAB_FLAGS)

## Kubernetes tier: a real control plane on this machine (no containers needed).
k8s-build:
	scripts/k8s-build.sh

k8s-up:
	scripts/k8s-up.sh

k8s-down:
	scripts/k8s-down.sh

k8s-smoke:
	scripts/k8s-smoke.sh

## kind tier: real kind clusters and real containers, built offline (k8s/README.md).
kind-build:
	scripts/kind-build.sh

kind-up: release
	scripts/kind-up.sh

kind-down:
	scripts/kind-down.sh

kind-test:
	scripts/kind-test.sh

## minikube tier: a real minikube (v1.37, docker driver) from a node image built offline.
minikube-build:
	scripts/kind-build.sh --minikube

minikube-test:
	scripts/minikube-test.sh

clean:
	$(CARGO) clean
	rm -rf .lab
