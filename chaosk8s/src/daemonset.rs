//! `chaosk8s.daemonset.probes` and `chaosk8s.daemonset.actions`, with their catalog
//! entries. Unlike the other kinds' probes, chaosk8s's daemon set probes never fail:
//! they answer false.

use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Map, Value, json};

use crate::catalog::{MAPPING, STRING, ns, optional, readiness_arguments, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::readiness::{self, Readiness};
use crate::{FunctionSpec, manifest};

pub(crate) const PROBES: &str = "chaosk8s.daemonset.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.daemonset.actions";

/// (ready pods, pods that should run), as the status reports them.
fn counts(set: &DaemonSet) -> (i32, i32) {
    set.status
        .as_ref()
        .map_or((0, 0), |s| (s.number_ready, s.desired_number_scheduled))
}

fn is_ready(set: &DaemonSet) -> bool {
    let (ready, desired) = counts(set);
    ready == desired
}

async fn list_named(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Vec<DaemonSet>, Error> {
    let api: Api<DaemonSet> = Api::namespaced(cluster.client(), ns);
    let mut params = ListParams::default().fields(&format!("metadata.name={name}"));
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    Ok(api.list(&params).await.map_err(|e| cluster.error(e))?.items)
}

/// True when daemon sets named `name` exist and every one has all its pods ready.
async fn available_and_healthy(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Value, Error> {
    let sets = list_named(cluster, name, ns, label_selector).await?;
    Ok(json!(!sets.is_empty() && sets.iter().all(is_ready)))
}

/// True when the first daemon set named `name` has a ready pod (chaosk8s looks at the
/// first one listed only).
async fn partially_available(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Value, Error> {
    let sets = list_named(cluster, name, ns, label_selector).await?;
    Ok(json!(sets.first().is_some_and(|s| counts(s).0 >= 1)))
}

async fn update(cluster: &Cluster, name: &str, patch: &Value, ns: &str) -> Result<Value, Error> {
    let api: Api<DaemonSet> = Api::namespaced(cluster.client(), ns);
    // The Python client sends a mapping as a strategic merge patch.
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        Ok(_) => Ok(Value::Null),
        Err(kube::Error::Api(status)) => Err(Error::ActivityFailed(format!(
            "failed to update daemon set '{name}': ({}) {}: {}",
            status.code, status.reason, status.message
        ))),
        Err(e) => Err(cluster.error(e)),
    }
}

fn probe_arguments() -> Vec<crate::ArgSpec> {
    vec![
        required("name", STRING),
        ns(),
        optional("label_selector", STRING, Value::Null),
    ]
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![
        manifest::create_entry::<DaemonSet>(
            ACTIONS,
            "create_daemon_set",
            "Creates the daemon set described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
        ),
        crate::delete::delete_entry::<DaemonSet>(
            ACTIONS,
            "delete_daemon_set",
            "Deletes the daemon set `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
        ),
        spec(
            ACTIONS,
            "update_daemon_set",
            "Patches the daemon set `name` with the mapping `spec` (a strategic merge patch).",
            vec![required("name", STRING), required("spec", MAPPING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    let patch: Map<String, Value> = args.parse("spec", "a mapping")?;
                    update(
                        cluster,
                        &args.string("name")?,
                        &Value::Object(patch),
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        spec(
            PROBES,
            "daemon_set_available_and_healthy",
            "True when the daemon set `name` exists and all its pods are ready; false otherwise.",
            probe_arguments(),
            |args, cluster| {
                Box::pin(async move {
                    available_and_healthy(
                        cluster,
                        &args.string("name")?,
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                    )
                    .await
                })
            },
        ),
        spec(
            PROBES,
            "daemon_set_partially_available",
            "True when the daemon set `name` has at least one ready pod; false otherwise.",
            probe_arguments(),
            |args, cluster| {
                Box::pin(async move {
                    partially_available(
                        cluster,
                        &args.string("name")?,
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                    )
                    .await
                })
            },
        ),
        spec(
            PROBES,
            "daemon_set_fully_available",
            "Waits up to `timeout` seconds until all pods of the daemon set are ready; true then, false otherwise.",
            readiness_arguments(None),
            |args, cluster| {
                Box::pin(async move {
                    let wait = Readiness::from_args(args)?;
                    Ok(json!(
                        readiness::reaches(cluster, &wait, true, is_ready).await?
                    ))
                })
            },
        ),
        spec(
            PROBES,
            "daemon_set_not_fully_available",
            "Waits up to `timeout` seconds until some pod of the daemon set is not ready; true then, false otherwise.",
            readiness_arguments(None),
            |args, cluster| {
                Box::pin(async move {
                    let wait = Readiness::from_args(args)?;
                    Ok(json!(
                        readiness::reaches(cluster, &wait, false, is_ready).await?
                    ))
                })
            },
        ),
    ]
}
