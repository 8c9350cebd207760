//! `chaosk8s.deployment.probes` and `chaosk8s.deployment.actions`.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::client::Cluster;
use crate::error::Error;
use crate::readiness::{self, Readiness, true_or_fail};

fn name_field(name: &str) -> String {
    format!("metadata.name={name}")
}

/// Deployments of `ns` named `name`, also filtered by `label_selector` when given.
async fn list_named(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Vec<Deployment>, Error> {
    let api: Api<Deployment> = Api::namespaced(cluster.client(), ns);
    let mut params = ListParams::default().fields(&name_field(name));
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    let list = api.list(&params).await.map_err(|e| cluster.error(e))?;
    Ok(list.items)
}

pub(crate) async fn available_and_healthy(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
    raise: bool,
) -> Result<Value, Error> {
    let deployments = list_named(cluster, name, ns, label_selector).await?;
    let failure = if deployments.is_empty() {
        Some(format!("Deployment '{name}' was not found"))
    } else if deployments.iter().any(|d| {
        // As chaosk8s compares them: a deployment scaled to zero reports no available
        // replicas at all, which is not equal to 0, so it counts as unhealthy.
        let available = d.status.as_ref().and_then(|s| s.available_replicas);
        available != d.spec.replicas
    }) {
        Some(format!("Deployment '{name}' is not healthy"))
    } else {
        None
    };
    match failure {
        None => Ok(json!(true)),
        Some(message) => true_or_fail(false, raise, message),
    }
}

/// As chaosk8s decides it: ready when the ready replicas equal the desired ones (so a
/// deployment scaled to zero, which reports no ready replicas, is not ready).
fn is_ready(deployment: &Deployment) -> bool {
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas);
    ready == deployment.spec.replicas
}

/// True as soon as one deployment named `name` (matching `label_selector`) has an
/// available replica. chaosk8s decides on the first deployment listed.
pub(crate) async fn partially_available(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
    raise: bool,
) -> Result<Value, Error> {
    let deployments = list_named(cluster, name, ns, label_selector).await?;
    let Some(first) = deployments.first() else {
        return true_or_fail(false, raise, format!("Deployment '{name}' was not found"));
    };
    // chaosk8s compares `available_replicas >= 1`, which raises a TypeError when the
    // status has none; here none counts as zero: not available.
    let available = first
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    true_or_fail(
        available >= 1,
        raise,
        format!("Deployment '{name}' is not healthy"),
    )
}

pub(crate) async fn fully_available(
    cluster: &Cluster,
    wait: &Readiness,
    raise: bool,
) -> Result<Value, Error> {
    let reached = readiness::reaches(cluster, wait, true, is_ready).await?;
    let message = format!(
        "deployment '{}' failed to recover within {}s",
        wait.name, wait.timeout
    );
    true_or_fail(reached, raise, message)
}

pub(crate) async fn not_fully_available(
    cluster: &Cluster,
    wait: &Readiness,
    raise: bool,
) -> Result<Value, Error> {
    let reached = readiness::reaches(cluster, wait, false, is_ready).await?;
    let message = format!(
        "deployment '{}' failed to stop running within {}s",
        wait.name, wait.timeout
    );
    true_or_fail(reached, raise, message)
}

/// Restarts the deployment's pods as `kubectl rollout restart` does: a new
/// `kubectl.kubernetes.io/restartedAt` annotation on its pod template (a strategic merge
/// patch, as the Python client sends a mapping).
pub(crate) async fn rollout(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    let api: Api<Deployment> = Api::namespaced(cluster.client(), ns);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": restarted_at(k8s_openapi::jiff::Timestamp::now()),
    }}}}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => Ok(Value::Null),
        Err(kube::Error::Api(status)) => Err(Error::ActivityFailed(format!(
            "failed to rollout the deployment '{name}'! Error: ({}) {}: {}",
            status.code, status.reason, status.message
        ))),
        Err(e) => Err(cluster.error(e)),
    }
}

/// The annotation's value as chaosk8s writes it: Python's `isoformat()` of an aware UTC
/// time (microseconds, `+00:00`) followed by a `Z`.
fn restarted_at(now: k8s_openapi::jiff::Timestamp) -> String {
    format!("{}+00:00Z", now.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
}

pub(crate) async fn scale(
    cluster: &Cluster,
    name: &str,
    replicas: i64,
    ns: &str,
) -> Result<Value, Error> {
    let api: Api<Deployment> = Api::namespaced(cluster.client(), ns);
    let patch = json!({"spec": {"replicas": replicas}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Value::Null),
        // chaosk8s turns an API refusal into ActivityFailed and lets the rest escape.
        Err(kube::Error::Api(status)) => Err(Error::ActivityFailed(format!(
            "failed to scale '{name}' to {replicas} replicas: ({}) {}: {}",
            status.code, status.reason, status.message
        ))),
        Err(e) => Err(cluster.error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};

    fn deployment(replicas: Option<i32>, ready: Option<i32>) -> Deployment {
        Deployment {
            spec: DeploymentSpec {
                replicas,
                ..Default::default()
            },
            status: Some(DeploymentStatus {
                ready_replicas: ready,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn readiness_compares_like_chaosk8s() {
        assert!(is_ready(&deployment(Some(2), Some(2))));
        assert!(!is_ready(&deployment(Some(2), Some(1))));
        assert!(!is_ready(&deployment(Some(2), None)));
        assert!(
            !is_ready(&deployment(Some(0), None)),
            "0 desired vs none reported"
        );
    }

    #[test]
    fn restarted_at_reads_like_chaosk8s() {
        let t = k8s_openapi::jiff::Timestamp::from_microsecond(1_700_000_000_123_456).unwrap();
        assert_eq!(restarted_at(t), "2023-11-14T22:13:20.123456+00:00Z");
    }
}
