//! `chaosk8s.secret.probes` and `chaosk8s.secret.actions`, with their catalog entries.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

use crate::catalog::{STRING, name_ns_selector, ns, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::{FunctionSpec, manifest};

pub(crate) const PROBES: &str = "chaosk8s.secret.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.secret.actions";

/// True when a secret named `name` and/or matching `label_selector` exists (any secret of
/// `ns` when neither is given); false otherwise.
async fn exists(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
) -> Result<Value, Error> {
    let api: Api<Secret> = Api::namespaced(cluster.client(), ns);
    let mut params = ListParams::default();
    if let Some(name) = name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    let secrets = api.list(&params).await.map_err(|e| cluster.error(e))?;
    Ok(json!(!secrets.items.is_empty()))
}

/// Deletes the secret; a missing one fails with the API's 404, as in chaosk8s.
async fn delete(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    let api: Api<Secret> = Api::namespaced(cluster.client(), ns);
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![
        manifest::create_entry::<Secret>(
            ACTIONS,
            "create_secret",
            "Creates the secret described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
        ),
        spec(
            ACTIONS,
            "delete_secret",
            "Deletes the secret `name`.",
            vec![required("name", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    delete(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
        ),
        spec(
            PROBES,
            "secret_exists",
            "True when a secret named `name` and/or matching `label_selector` exists in `ns`; false otherwise.",
            name_ns_selector(),
            |args, cluster| {
                Box::pin(async move {
                    exists(
                        cluster,
                        args.non_empty("name")?.as_deref(),
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                    )
                    .await
                })
            },
        ),
    ]
}
