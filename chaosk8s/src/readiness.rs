//! The readiness waits chaosk8s runs on deployments, stateful sets and daemon sets: a
//! watch on one named object until its readiness equals the wanted one, or a timeout.

use std::fmt::Debug;
use std::time::Duration;

use futures::TryStreamExt;
use kube::Resource;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde::de::DeserializeOwned;

use crate::args::{Args, format_selector};
use crate::client::Cluster;
use crate::error::Error;

/// The arguments shared by the readiness waits.
pub(crate) struct Readiness {
    pub name: String,
    pub ns: String,
    pub label_selector: Option<String>,
    pub timeout: u64,
}

impl Readiness {
    pub(crate) fn from_args(args: &Args) -> Result<Self, Error> {
        let name = args.string("name")?;
        // chaosk8s formats the selector here (and only here) with the object's name.
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

/// Watches the object `wait.name` until `is_ready` of it equals `ready` (true) or the
/// timeout passes (false). Like chaosk8s, every event counts, including the initial state.
pub(crate) async fn reaches<K>(
    cluster: &Cluster,
    wait: &Readiness,
    ready: bool,
    is_ready: fn(&K) -> bool,
) -> Result<bool, Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    <K as Resource>::DynamicType: Default,
{
    let timeout = Duration::from_secs(wait.timeout);
    let api: Api<K> = Api::namespaced(cluster.client_for_watch(timeout)?, &wait.ns);
    let fields = format!("metadata.name={}", wait.name);
    let kind = K::kind(&Default::default()).into_owned();
    let deadline = tokio::time::Instant::now() + timeout;
    let watch = async {
        loop {
            let mut list_params = ListParams::default().fields(&fields);
            if let Some(selector) = &wait.label_selector {
                list_params = list_params.labels(selector);
            }
            let list = api.list(&list_params).await.map_err(|e| cluster.error(e))?;
            if list.items.iter().any(|o| is_ready(o) == ready) {
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
                    WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                        tracing::debug!(ready = is_ready(&o), %kind, name = %wait.name, "event");
                        if is_ready(&o) == ready {
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

/// chaosk8s's "true, else fail with `message`, or answer false when `raise` is off".
pub(crate) fn true_or_fail(
    reached: bool,
    raise: bool,
    message: String,
) -> Result<serde_json::Value, Error> {
    if reached {
        Ok(serde_json::Value::Bool(true))
    } else if raise {
        Err(Error::ActivityFailed(message))
    } else {
        tracing::debug!("{message}");
        Ok(serde_json::Value::Bool(false))
    }
}
