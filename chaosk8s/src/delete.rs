//! Deleting namespaced objects the way chaosk8s's `delete_*` actions pick them: by name,
//! else by label selector, else every object of the namespace.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, ListParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::FunctionSpec;
use crate::catalog::{name_ns_selector, spec};
use crate::client::Cluster;
use crate::error::Error;

/// Deletes the `K` named `name`, else those matching `label_selector`, else all of `ns`;
/// with `missing_ok`, one deleted meanwhile by someone else (e.g. the garbage collector)
/// is not an error.
pub(crate) async fn delete_matching<K>(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
    missing_ok: bool,
) -> Result<Value, Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    <K as Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(cluster.client(), ns);
    let params = match (name, label_selector) {
        (Some(name), _) => ListParams::default().fields(&format!("metadata.name={name}")),
        (None, Some(selector)) => ListParams::default().labels(selector),
        (None, None) => ListParams::default(),
    };
    let list = api.list(&params).await.map_err(|e| cluster.error(e))?;
    let kind = K::kind(&Default::default()).into_owned();
    for object in list.items {
        let name = object.name_any();
        tracing::debug!(%kind, object = %name, ns, "deleting");
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if missing_ok && status.code == 404 => {}
            Err(e) => return Err(cluster.error(e)),
        }
    }
    Ok(Value::Null)
}

/// A `delete_*` action's catalog entry: [`delete_matching`] of `K` by the optional `name`
/// and `label_selector`, in `ns`.
pub(crate) fn delete_entry<K>(
    module: &'static str,
    name: &'static str,
    doc: &'static str,
) -> FunctionSpec
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync,
    <K as Resource>::DynamicType: Default,
{
    spec(module, name, doc, name_ns_selector(), |args, cluster| {
        Box::pin(async move {
            delete_matching::<K>(
                cluster,
                args.non_empty("name")?.as_deref(),
                &args.string("ns")?,
                args.non_empty("label_selector")?.as_deref(),
                false,
            )
            .await
        })
    })
}
