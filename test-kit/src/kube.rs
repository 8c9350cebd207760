//! The Kubernetes tier's shared pieces: the pinned kubectl and the node-port lock.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Where `scripts/k8s-build.sh` puts the control plane's programs.
fn k8s_bin() -> PathBuf {
    let cache = std::env::var_os("CASCADE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/cascade-lab")
        });
    cache.join("k8s/bin")
}

/// PATH with the control plane's pinned kubectl first, when it is built.
pub fn path_with_kubectl() -> String {
    let bin = k8s_bin();
    let path = std::env::var("PATH").unwrap_or_default();
    if bin.join("kubectl").is_file() {
        format!("{}:{path}", bin.display())
    } else {
        path
    }
}

/// Whether the Deployment `name` exists, asked with `kubectl` (`kubectl` runs it with the
/// test's cluster and namespace and returns whether it succeeded and its stdout).
pub fn deployment_exists(kubectl: impl FnOnce(&[&str]) -> (bool, String), name: &str) -> bool {
    let (ok, out) = kubectl(&[
        "get",
        "deployment",
        name,
        "--ignore-not-found",
        "-o",
        "name",
    ]);
    assert!(ok, "kubectl get deployment {name}: {out}");
    !out.trim().is_empty()
}

/// Takes the machine-wide lock on the consumer Service's node port (30080 is
/// cluster-wide, so tests that apply the manifests take turns). The lock file sits next
/// to the kubeconfig; it is released when the returned file is dropped.
pub fn node_port_lock(kubeconfig: &Path) -> File {
    let path = kubeconfig
        .parent()
        .expect("the kubeconfig has a folder")
        .join("cascade-lab-nodeport.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the node-port lock {}: {e}", path.display()));
    file.lock().expect("take the node-port lock");
    file
}
