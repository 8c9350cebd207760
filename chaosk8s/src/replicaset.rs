//! `chaosk8s.replicaset.actions`.

use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::Value;

use crate::args::Args;
use crate::client::Cluster;
use crate::error::{Error, unknown};

pub(crate) async fn call(func: &str, args: &Args, cluster: &Cluster) -> Result<Value, Error> {
    match func {
        "delete_replica_set" => {
            delete(
                cluster,
                args.non_empty("name")?.as_deref(),
                &args.string("ns")?,
                args.non_empty("label_selector")?.as_deref(),
                false,
            )
            .await
        }
        _ => Err(unknown("chaosk8s.replicaset.actions", func)),
    }
}

/// Deletes the replica set `name`, else those matching `label_selector`, else all of `ns`.
pub(crate) async fn delete(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
    missing_ok: bool,
) -> Result<Value, Error> {
    let api: Api<ReplicaSet> = Api::namespaced(cluster.client(), ns);
    let params = match (name, label_selector) {
        (Some(name), _) => ListParams::default().fields(&format!("metadata.name={name}")),
        (None, Some(selector)) => ListParams::default().labels(selector),
        (None, None) => ListParams::default(),
    };
    let list = api.list(&params).await.map_err(|e| cluster.error(e))?;
    for replica_set in list.items {
        let name = replica_set.metadata.name.unwrap_or_default();
        tracing::debug!(replica_set = %name, ns, "deleting replica set");
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if missing_ok && status.code == 404 => {}
            Err(e) => return Err(cluster.error(e)),
        }
    }
    Ok(Value::Null)
}
