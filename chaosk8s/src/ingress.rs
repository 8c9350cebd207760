//! `chaosk8s.networking.actions`'s Ingress functions and `chaosk8s.networking.probes`:
//! create an Ingress from a file, patch one, delete one, whether one exists; as
//! chaostoolkit-kubernetes 0.39 does it.

use kube::api::{DeleteParams, ListParams};
use serde_json::{Value, json};

use crate::FunctionSpec;
use crate::catalog::{MAPPING, STRING, ns, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::manifest::read_manifest;
use crate::network_policy::NETWORKING_ACTIONS;
use crate::node::mapping;
use crate::raw;

pub(crate) const NETWORKING_PROBES: &str = "chaosk8s.networking.probes";

fn ingresses(ns: &str) -> String {
    raw::namespaced("networking.k8s.io/v1", ns, "ingresses")
}

/// `create_ingress`: the Ingress in the file `spec_path` (JSON or YAML by its extension).
pub(crate) async fn create(cluster: &Cluster, spec_path: &str, ns: &str) -> Result<Value, Error> {
    let body = read_manifest(spec_path)?;
    raw::create(cluster, &ingresses(ns), &body).await?;
    Ok(Value::Null)
}

/// `update_ingress`: `spec` as a strategic merge patch of the Ingress `name`. A refusal
/// fails with the message 0.39 writes (it says "daemon set").
pub(crate) async fn update(
    cluster: &Cluster,
    name: &str,
    spec: &Value,
    ns: &str,
) -> Result<Value, Error> {
    match raw::patch(cluster, &ingresses(ns), name, spec).await {
        Ok(_) => Ok(Value::Null),
        Err(e @ Error::Api { .. }) => Err(Error::ActivityFailed(format!(
            "failed to update daemon set '{name}': {}",
            raw::api_exception_text(&e)
        ))),
        Err(e) => Err(e),
    }
}

/// `delete_ingress`: deletes the Ingress `name`.
pub(crate) async fn delete(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    raw::delete(cluster, &ingresses(ns), name, &DeleteParams::default()).await?;
    Ok(Value::Null)
}

/// `ingress_exists`: whether `ns` has an Ingress `name`.
pub(crate) async fn exists(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    let list = raw::list(cluster, &ingresses(ns), &params).await?;
    let found = list["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty());
    Ok(json!(found))
}

/// The catalog entries of the Ingress functions.
pub(crate) fn functions() -> Vec<FunctionSpec> {
    vec![
        spec(
            NETWORKING_ACTIONS,
            "create_ingress",
            "Creates the Ingress described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
            vec![required("spec_path", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    create(cluster, &args.string("spec_path")?, &args.string("ns")?).await
                })
            },
        ),
        spec(
            NETWORKING_ACTIONS,
            "delete_ingress",
            "Deletes the Ingress `name`.",
            vec![required("name", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    delete(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
        ),
        spec(
            NETWORKING_ACTIONS,
            "update_ingress",
            "Patches the Ingress `name` with `spec` (a strategic merge patch).",
            vec![required("name", STRING), required("spec", MAPPING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    let spec = Value::Object(mapping(args, "spec")?.unwrap_or_default());
                    update(cluster, &args.string("name")?, &spec, &args.string("ns")?).await
                })
            },
        ),
        spec(
            NETWORKING_PROBES,
            "ingress_exists",
            "True when `ns` has an Ingress `name`, false otherwise.",
            vec![required("name", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    exists(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
        ),
    ]
}
