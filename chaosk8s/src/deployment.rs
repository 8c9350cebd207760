//! `chaosk8s.deployment.probes` and `chaosk8s.deployment.actions`.

use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{
    Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use serde_json::{Value, json};

use crate::args::{Args, format_selector};
use crate::client::Cluster;
use crate::error::Error;

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
        Some(message) if raise => Err(Error::ActivityFailed(message)),
        Some(message) => {
            tracing::debug!("{message}");
            Ok(json!(false))
        }
    }
}

/// The arguments shared by the two readiness waits.
pub(crate) struct Readiness {
    pub name: String,
    pub ns: String,
    pub label_selector: Option<String>,
    pub timeout: u64,
}

impl Readiness {
    pub(crate) fn from_args(args: &Args) -> Result<Self, Error> {
        let name = args.string("name")?;
        // chaosk8s formats the selector here (and only here) with the deployment's name.
        let label_selector = args
            .opt_string("label_selector")?
            .map(|s| format_selector(&s, Some(&name)))
            .transpose()?;
        Ok(Self {
            name,
            ns: args.string("ns")?,
            label_selector,
            timeout: args.seconds("timeout")?,
        })
    }
}

/// As chaosk8s decides it: ready when the ready replicas equal the desired ones (so a
/// deployment scaled to zero, which reports no ready replicas, is not ready).
fn is_ready(deployment: &Deployment) -> bool {
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas);
    ready == deployment.spec.replicas
}

/// Watches the deployment until its readiness equals `ready` (true) or `timeout` passes
/// (false). Like chaosk8s, every event counts, including the initial state.
async fn reaches_readiness(
    cluster: &Cluster,
    wait: &Readiness,
    ready: bool,
) -> Result<bool, Error> {
    let timeout = Duration::from_secs(wait.timeout);
    let api: Api<Deployment> = Api::namespaced(cluster.client_for_watch(timeout)?, &wait.ns);
    let fields = name_field(&wait.name);
    let deadline = tokio::time::Instant::now() + timeout;
    let watch = async {
        loop {
            let mut list_params = ListParams::default().fields(&fields);
            if let Some(selector) = &wait.label_selector {
                list_params = list_params.labels(selector);
            }
            let list = api.list(&list_params).await.map_err(|e| cluster.error(e))?;
            if list.items.iter().any(|d| is_ready(d) == ready) {
                return Ok(true);
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut watch_params = WatchParams::default()
                .fields(&fields)
                .timeout(u32::try_from(remaining.as_secs().max(1)).unwrap_or(u32::MAX));
            if let Some(selector) = &wait.label_selector {
                watch_params = watch_params.labels(selector);
            }
            let version = list.metadata.resource_version.unwrap_or_default();
            let stream = api
                .watch(&watch_params, &version)
                .await
                .map_err(|e| cluster.error(e))?;
            futures::pin_mut!(stream);
            while let Some(event) = stream.try_next().await.map_err(|e| cluster.error(e))? {
                match event {
                    WatchEvent::Added(d) | WatchEvent::Modified(d) | WatchEvent::Deleted(d) => {
                        tracing::debug!(
                            ready = is_ready(&d),
                            deployment = %wait.name,
                            "deployment event"
                        );
                        if is_ready(&d) == ready {
                            return Ok(true);
                        }
                    }
                    WatchEvent::Bookmark(_) => {}
                    // 410 Gone: our resource version expired; list again.
                    WatchEvent::Error(status) if status.code == 410 => break,
                    WatchEvent::Error(status) => {
                        return Err(Error::Api {
                            code: status.code,
                            reason: status.reason,
                            message: status.message,
                        });
                    }
                }
            }
            // The server closed the watch (its timeout): list and watch again.
        }
    };
    match tokio::time::timeout_at(deadline, watch).await {
        Ok(result) => result,
        Err(_elapsed) => Ok(false),
    }
}

pub(crate) async fn fully_available(
    cluster: &Cluster,
    wait: &Readiness,
    raise: bool,
) -> Result<Value, Error> {
    if reaches_readiness(cluster, wait, true).await? {
        return Ok(json!(true));
    }
    let message = format!(
        "deployment '{}' failed to recover within {}s",
        wait.name, wait.timeout
    );
    if raise {
        Err(Error::ActivityFailed(message))
    } else {
        Ok(json!(false))
    }
}

pub(crate) async fn not_fully_available(
    cluster: &Cluster,
    wait: &Readiness,
    raise: bool,
) -> Result<Value, Error> {
    if reaches_readiness(cluster, wait, false).await? {
        return Ok(json!(true));
    }
    let message = format!(
        "deployment '{}' failed to stop running within {}s",
        wait.name, wait.timeout
    );
    if raise {
        Err(Error::ActivityFailed(message))
    } else {
        Ok(json!(false))
    }
}

/// Reads a manifest the way chaosk8s does: JSON for `.json`, YAML for `.yml`/`.yaml`.
pub(crate) fn read_manifest(spec_path: &str) -> Result<Value, Error> {
    let text = std::fs::read_to_string(spec_path)
        .map_err(|e| Error::ActivityFailed(format!("cannot read {spec_path}: {e}")))?;
    match Path::new(spec_path).extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(&text)
            .map_err(|e| Error::ActivityFailed(format!("{spec_path} is not valid JSON: {e}"))),
        Some("yml" | "yaml") => serde_saphyr::from_str(&text).map_err(|e| {
            Error::ActivityFailed(format!(
                "{spec_path} is not valid YAML: {}",
                e.to_string().replace('\n', " ")
            ))
        }),
        _ => Err(Error::ActivityFailed(format!("cannot process {spec_path}"))),
    }
}

pub(crate) async fn create(cluster: &Cluster, spec_path: &str, ns: &str) -> Result<Value, Error> {
    let manifest = read_manifest(spec_path)?;
    // Sent as given (like chaosk8s's dict body), not through the typed struct, so fields
    // this client version does not know are not dropped.
    let object: DynamicObject = serde_json::from_value(manifest).map_err(|e| {
        Error::ActivityFailed(format!("{spec_path} does not describe an object: {e}"))
    })?;
    let resource = ApiResource::erase::<Deployment>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, &resource);
    api.create(&PostParams::default(), &object)
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}

/// Deletes the deployment `name`, else those matching `label_selector`, else all of `ns`;
/// with `missing_ok`, one deleted meanwhile by someone else is not an error.
pub(crate) async fn delete(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
    missing_ok: bool,
) -> Result<Value, Error> {
    crate::delete::delete_matching::<Deployment>(cluster, name, ns, label_selector, missing_ok)
        .await
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
    use std::io::Write;

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

    fn manifest_file(suffix: &str, text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn reads_json_and_yaml_manifests() {
        let yaml = manifest_file(
            ".yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
        );
        let value = read_manifest(yaml.path().to_str().unwrap()).unwrap();
        assert_eq!(value["metadata"]["name"], "web");
        assert_eq!(value["spec"]["replicas"], 2);
        let json = manifest_file(".json", r#"{"kind": "Deployment"}"#);
        assert_eq!(
            read_manifest(json.path().to_str().unwrap()).unwrap()["kind"],
            "Deployment"
        );
    }

    #[test]
    fn manifest_errors_name_the_file() {
        let txt = manifest_file(".txt", "kind: Deployment");
        let path = txt.path().to_str().unwrap().to_string();
        assert_eq!(
            read_manifest(&path).unwrap_err().to_string(),
            format!("cannot process {path}")
        );
        let broken = manifest_file(".json", "{");
        let path = broken.path().to_str().unwrap().to_string();
        assert!(
            read_manifest(&path)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("{path} is not valid JSON"))
        );
        let err = read_manifest("/nonexistent/d.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read /nonexistent/d.yaml: "),
            "{err}"
        );
    }
}
