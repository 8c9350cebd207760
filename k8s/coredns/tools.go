//go:build tools

// Package coredns pins CoreDNS at the version kubeadm v1.33 deploys, built into
// the registry.k8s.io/coredns/coredns image of the offline kind node image.
package coredns

import (
	_ "github.com/coredns/coredns"
)
