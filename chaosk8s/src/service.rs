//! `chaosk8s.service.probes` and `chaosk8s.service.actions`.

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};

use crate::args::py_str;
use crate::client::Cluster;
use crate::error::Error;

/// True when a service matching `name` and/or `label_selector` exists (any service of `ns`
/// when neither is given).
pub(crate) async fn is_initialized(
    cluster: &Cluster,
    name: Option<&str>,
    ns: &str,
    label_selector: Option<&str>,
    raise: bool,
) -> Result<Value, Error> {
    let api: Api<Service> = Api::namespaced(cluster.client(), ns);
    let mut params = ListParams::default();
    if let Some(name) = name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    let services = api.list(&params).await.map_err(|e| cluster.error(e))?;
    if !services.items.is_empty() {
        return Ok(json!(true));
    }
    let message = format!("service '{}' is not initialized", py_str(name));
    if raise {
        Err(Error::ActivityFailed(message))
    } else {
        tracing::debug!("{message}");
        Ok(json!(false))
    }
}

/// Deletes the service; a missing one fails with the API's 404, as in chaosk8s.
pub(crate) async fn delete(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    let api: Api<Service> = Api::namespaced(cluster.client(), ns);
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| cluster.error(e))?;
    Ok(Value::Null)
}
