//! Waiting for Deployments to finish rolling out, by polling their status through the
//! command's `chaosk8s::Session` (what `kubectl rollout status` checks), with a spinner
//! and a bounded wait.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chaosk8s::Session;
use k8s_openapi::api::apps::v1::Deployment;

use crate::interrupt;
use crate::ui;

const POLL: Duration = Duration::from_millis(500);

/// Why a Deployment is not rolled out yet; `None` when it is.
pub fn pending_reason(deployment: &Deployment) -> Option<String> {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let Some(status) = deployment.status.as_ref() else {
        return Some("no status yet".into());
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Some("the controller has not seen the change yet".into());
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        return Some(format!("{updated} of {wanted} replicas updated"));
    }
    if total > updated {
        return Some(format!(
            "{} old replicas still terminating",
            total - updated
        ));
    }
    if available < wanted {
        return Some(format!(
            "{available} of {wanted} updated replicas available"
        ));
    }
    None
}

/// Why the rollout is not over although the Deployment's status says so: old pods
/// still shutting down. The status stops counting a pod once it is terminating, but it
/// may serve a while longer (its in-flight requests drain, and kube-proxy routes new
/// connections to it until its next sync), so whoever measures the new pods right after
/// `lab fix` or a settings change would measure the old ones too.
fn shutting_down(session: &Session, namespace: &str, deployment: &str) -> Option<String> {
    match session.pods(namespace, &format!("name={deployment}")) {
        Ok(pods) => {
            let old = pods
                .iter()
                .filter(|pod| pod.metadata.deletion_timestamp.is_some())
                .count();
            (old > 0).then(|| format!("{old} old pod(s) still shutting down"))
        }
        Err(err) => Some(format!("cannot list its pods: {err}")),
    }
}

/// One line per pod of `deployment`: phase, and the conditions and container states that
/// explain why it is not ready.
fn pod_report(session: &Session, namespace: &str, deployment: &str) -> String {
    let pods = match session.pods(namespace, &format!("name={deployment}")) {
        Ok(pods) => pods,
        Err(err) => return format!("    (cannot list its pods: {err})"),
    };
    if pods.is_empty() {
        return "    no pods (check `kubectl get replicasets,events`)".into();
    }
    let mut lines = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.unwrap_or_default();
        let status = pod.status.unwrap_or_default();
        let mut parts = vec![format!("phase {}", status.phase.unwrap_or_default())];
        for condition in status.conditions.unwrap_or_default() {
            if condition.status != "True" {
                let why = [condition.reason, condition.message]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                parts.push(format!("{}=False {why}", condition.type_));
            }
        }
        for container in status.container_statuses.unwrap_or_default() {
            if let Some(waiting) = container.state.and_then(|s| s.waiting) {
                parts.push(format!(
                    "container {} waiting: {} {}",
                    container.name,
                    waiting.reason.unwrap_or_default(),
                    waiting.message.unwrap_or_default()
                ));
            }
        }
        lines.push(format!("    pod {name}: {}", parts.join("; ")));
    }
    lines.join("\n")
}

/// Waits until every Deployment in `names` is rolled out, at most `timeout`.
pub fn wait(session: &Session, namespace: &str, names: &[&str], timeout: Duration) -> Result<()> {
    let message = format!("waiting for the rollout of {}", names.join(" and "));
    let spinner = ui::spinner(message.clone());
    if spinner.is_none() {
        ui::info(format!("{message} (at most {}s)", timeout.as_secs()));
    }
    let deadline = Instant::now() + timeout;
    let mut last: Vec<(String, String)>;
    loop {
        interrupt::check()?;
        last = Vec::new();
        for name in names {
            let reason = match session.deployment(namespace, name) {
                Ok(Some(deployment)) => {
                    pending_reason(&deployment).or_else(|| shutting_down(session, namespace, name))
                }
                Ok(None) => Some("the Deployment does not exist".into()),
                Err(err) => Some(format!("cannot read it: {err}")),
            };
            if let Some(reason) = reason {
                last.push((name.to_string(), reason));
            }
        }
        if let Some(bar) = &spinner {
            let pending: Vec<String> = last.iter().map(|(n, r)| format!("{n}: {r}")).collect();
            bar.set_message(format!("{message} ({})", pending.join(", ")));
        }
        if last.is_empty() {
            if let Some(bar) = spinner {
                bar.finish_and_clear();
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(POLL);
    }
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let mut report = Vec::new();
    for (name, reason) in &last {
        report.push(format!(
            "deployment {name} in namespace '{namespace}': {reason}\n{}",
            pod_report(session, namespace, name)
        ));
    }
    bail!(
        "the rollout did not finish within {}s (raise it with --timeout):\n{}",
        timeout.as_secs(),
        report.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn deployment(generation: i64, status: Option<DeploymentStatus>) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..Default::default()
            },
            spec: DeploymentSpec {
                replicas: Some(1),
                ..Default::default()
            },
            status,
        }
    }

    fn status(observed: i64, total: i32, updated: i32, available: i32) -> DeploymentStatus {
        DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(total),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            ..Default::default()
        }
    }

    #[test]
    fn a_rollout_is_done_only_when_updated_available_and_old_pods_gone() {
        assert!(pending_reason(&deployment(2, None)).is_some());
        assert!(
            pending_reason(&deployment(2, Some(status(1, 1, 1, 1))))
                .unwrap()
                .contains("not seen")
        );
        assert_eq!(
            pending_reason(&deployment(2, Some(status(2, 1, 0, 1)))).unwrap(),
            "0 of 1 replicas updated"
        );
        assert_eq!(
            pending_reason(&deployment(2, Some(status(2, 2, 1, 1)))).unwrap(),
            "1 old replicas still terminating"
        );
        assert_eq!(
            pending_reason(&deployment(2, Some(status(2, 1, 1, 0)))).unwrap(),
            "0 of 1 updated replicas available"
        );
        assert_eq!(
            pending_reason(&deployment(2, Some(status(2, 1, 1, 1)))),
            None
        );
    }
}
