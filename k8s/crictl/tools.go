//go:build tools

// Package crictl pins crictl, the CRI client kind runs inside a node (kind
// load docker-image asks it which images a node has already).
package crictl

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
