//go:build tools

// Package kind pins kind, the tool that runs Kubernetes nodes as Docker
// containers, for the kind test tier (scripts/kind-build.sh). A user with
// internet access runs a stock kind instead; the product does not depend on it.
package kind

import (
	_ "sigs.k8s.io/kind"
)
