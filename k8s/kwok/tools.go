//go:build tools

// Package kwok pins kwok, which simulates the cluster's node: it keeps a fake
// Node Ready and moves pods bound to it to Running with a pod IP. It lives in
// its own module so its dependency versions do not shift the ones
// k8s.io/kubernetes was tested with (and the other way round).
package kwok

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
