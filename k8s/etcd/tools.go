//go:build tools

// Package etcd pins etcd at the version kubeadm v1.33.13 deploys (its image
// tag registry.k8s.io/etcd:3.5.24-0), for the offline kind node image. The
// host control plane (k8s/controlplane) keeps the etcd Kubernetes v1.33 was
// released with.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
