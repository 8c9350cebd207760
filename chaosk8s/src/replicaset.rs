//! `chaosk8s.replicaset.actions`.

use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::Value;

use crate::client::Cluster;
use crate::error::Error;

/// Deletes the replica set `name`, else those matching `label_selector`, else all of `ns`.
pub(crate) async fn delete(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
    missing_ok: bool,
) -> Result<Value, Error> {
    crate::delete::delete_matching::<ReplicaSet>(cluster, name, ns, label_selector, missing_ok)
        .await
}
