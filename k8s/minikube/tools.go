//go:build tools

// Pins minikube for scripts/minikube-build.sh, which builds its cmd/minikube with the
// version stamped as minikube's own Makefile does.
package tools

import _ "k8s.io/minikube/cmd/minikube"
