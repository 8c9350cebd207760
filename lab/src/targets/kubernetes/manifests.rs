//! The lab's objects go on and off the cluster with `kubectl apply -k` / `delete -k`, as
//! the tutorial does it.

use std::path::Path;

use anyhow::Result;

use super::repo::{self, Repo};
use super::tools::Tool;
use crate::service::Mode;
use crate::state::KubernetesRecord;
use crate::ui;

/// `kubectl [--context C] ARGS`.
fn kubectl(context: Option<&str>, args: &[&str]) -> Result<String> {
    let mut all: Vec<&str> = Vec::new();
    if let Some(context) = context {
        all.extend(["--context", context]);
    }
    all.extend_from_slice(args);
    Tool::Kubectl.output(all)
}

/// Applies the overlay for `mode` (with the fault proxy when the record says so; through
/// a registry kustomization in `work` when the images come from `--image-registry`).
pub fn apply(repo: &Repo, work: &Path, record: &KubernetesRecord, mode: Mode) -> Result<()> {
    let overlay = repo.overlay(mode, record.fault_proxy);
    let dir = match &record.image_registry {
        Some(registry) => {
            let dir = work.join("k8s-kustomize").join(mode.as_str());
            repo::registry_kustomization(&dir, &overlay, registry)?;
            dir
        }
        None => overlay,
    };
    ui::info(format!(
        "applying the `{mode}` manifests in namespace '{}'",
        record.namespace
    ));
    let dir = dir.to_string_lossy().into_owned();
    let out = kubectl(
        record.context.as_deref(),
        &["apply", "-k", &dir, "-n", &record.namespace],
    )?;
    tracing::debug!(output = %out, "kubectl apply");
    Ok(())
}

/// The fault proxy's own objects (components/fault-proxy), for `lab up --no-fault-proxy`.
const FAULT_PROXY_OBJECTS: [&str; 4] = [
    "deployment/fault-proxy",
    "service/fault-proxy",
    "configmap/fault-proxy-config",
    "networkpolicy/fault-proxy-ingress",
];

/// Deletes the fault proxy's objects from `namespace` (the consumer, re-applied without
/// the component, already calls the provider again).
pub fn delete_fault_proxy(context: Option<&str>, namespace: &str) -> Result<()> {
    ui::info(format!(
        "deleting the fault proxy from namespace '{namespace}'"
    ));
    let mut args = vec!["delete"];
    args.extend(FAULT_PROXY_OBJECTS);
    args.extend(["-n", namespace, "--ignore-not-found=true", "--wait=true"]);
    kubectl(context, &args)?;
    Ok(())
}

/// Deletes every object of the lab from `namespace` and waits until they are gone.
pub fn delete(repo: &Repo, context: Option<&str>, namespace: &str) -> Result<()> {
    // Every overlay's objects are among the fault-proxy overlays' (missing ones ignored);
    // a checkout from before the fault proxy has only the plain ones.
    let superset = repo.overlay(Mode::Before, true);
    let overlay = if superset.join("kustomization.yaml").is_file() {
        superset
    } else {
        repo.overlay(Mode::Before, false)
    };
    let overlay = overlay.to_string_lossy().into_owned();
    ui::info(format!("deleting the lab from namespace '{namespace}'"));
    kubectl(
        context,
        &[
            "delete",
            "-k",
            &overlay,
            "-n",
            namespace,
            "--ignore-not-found=true",
            "--wait=true",
            "--timeout=120s",
        ],
    )?;
    // Made by `lab up` itself, not by the manifests.
    kubectl(
        context,
        &[
            "delete",
            "secret",
            crate::fault_token::SECRET_NAME,
            "-n",
            namespace,
            "--ignore-not-found=true",
        ],
    )?;
    Ok(())
}

/// `kubectl rollout restart` of a lab Deployment (new pods read the Secrets again).
pub fn restart(context: Option<&str>, namespace: &str, deployment: &str) -> Result<()> {
    let target = format!("deployment/{deployment}");
    ui::info(format!(
        "restarting {deployment} so it reads the new fault token"
    ));
    kubectl(context, &["rollout", "restart", &target, "-n", namespace])?;
    Ok(())
}

/// `kubectl logs` of a lab Deployment, straight to the terminal.
pub fn logs(context: Option<&str>, namespace: &str, deployment: &str, follow: bool) -> Result<()> {
    let deployment = format!("deployment/{deployment}");
    let mut args: Vec<&str> = Vec::new();
    if let Some(context) = context {
        args.extend(["--context", context]);
    }
    args.extend([
        "logs",
        &deployment,
        "-n",
        namespace,
        "--all-containers=true",
    ]);
    if follow {
        args.push("--follow");
    }
    Tool::Kubectl.interactive(args)
}
