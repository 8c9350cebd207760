//! `chaosk8s.namespace.probes` and `chaosk8s.namespace.actions`, with their catalog
//! entries.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

use crate::catalog::{STRING, optional, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::{FunctionSpec, manifest};

pub(crate) const PROBES: &str = "chaosk8s.namespace.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.namespace.actions";

/// Creates the namespace described in `spec_path`, else the one named `name`.
async fn create(
    cluster: &Cluster,
    name: Option<&str>,
    spec_path: Option<&str>,
) -> Result<Value, Error> {
    let (origin, manifest) = match (spec_path, name) {
        (Some(path), _) => (path.to_string(), manifest::read_manifest(path)?),
        (None, Some(name)) => (
            format!("namespace '{name}'"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        ),
        (None, None) => {
            return Err(Error::ActivityFailed(
                "You need to either specify name or spec_path".into(),
            ));
        }
    };
    manifest::create_cluster_wide::<Namespace>(cluster, &origin, manifest).await
}

async fn delete(cluster: &Cluster, name: &str) -> Result<Value, Error> {
    let api: Api<Namespace> = Api::all(cluster.client());
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}

async fn exists(cluster: &Cluster, name: &str) -> Result<Value, Error> {
    let api: Api<Namespace> = Api::all(cluster.client());
    let params = ListParams::default().fields(&format!("metadata.name={name}"));
    let list = api.list(&params).await.map_err(|e| cluster.error(e))?;
    Ok(json!(!list.items.is_empty()))
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![
        spec(
            ACTIONS,
            "create_namespace",
            "Creates the namespace described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`, else the namespace `name`.",
            vec![
                optional("name", STRING, Value::Null),
                optional("spec_path", STRING, Value::Null),
            ],
            |args, cluster| {
                Box::pin(async move {
                    create(
                        cluster,
                        args.non_empty("name")?.as_deref(),
                        args.non_empty("spec_path")?.as_deref(),
                    )
                    .await
                })
            },
        ),
        spec(
            ACTIONS,
            "delete_namespace",
            "Deletes the namespace `name` (and so everything in it).",
            vec![required("name", STRING)],
            |args, cluster| Box::pin(async move { delete(cluster, &args.string("name")?).await }),
        ),
        spec(
            PROBES,
            "namespace_exists",
            "True when the namespace `name` exists; false otherwise.",
            vec![required("name", STRING)],
            |args, cluster| Box::pin(async move { exists(cluster, &args.string("name")?).await }),
        ),
    ]
}
