//! The deprecated `chaosk8s.probes` and `chaosk8s.actions`. Their catalog entries'
//! handlers delegate to the per-kind modules as chaosk8s 0.39 does, with the same return
//! values (several answer `null` because the Python wrapper returns nothing); this module
//! holds the one with a body of its own, `kill_microservice`.
//!
//! Deliberate differences from 0.39, both about the legacy default selector
//! `name in ({name})`, which 0.39 forwards unformatted to functions that never format it:
//! - `kill_microservice`: 0.39 deletes the deployment, then lists pods with the literal
//!   selector `name in ({name})`, which the API server rejects (400), so the action fails
//!   although the deployment is gone (its replica sets and pods then go by garbage
//!   collection). Here the selector is formatted with `name`, and the deployment, the
//!   replica sets and every pod it matches are deleted, the pods with a zero grace period:
//!   the behaviour the function documents and the tutorial relies on.
//! - `service_endpoint_is_initialized` (its handler in `catalog`): likewise the selector
//!   is formatted with `name` instead of being sent literally (which makes 0.39 fail with a 400 whenever the default
//!   is used).

use kube::api::DeleteParams;
use serde_json::Value;

use crate::args::format_selector;
use crate::client::Cluster;
use crate::error::Error;
use crate::{deployment, pod, replicaset};

/// Deletes the deployment `name`, then the replica sets and pods matching the formatted
/// selector (pods with a zero grace period, so they are gone at once, not after the
/// controller's garbage collection).
pub(crate) async fn kill_microservice(
    cluster: &Cluster,
    name: &str,
    ns: &str,
    label_selector: &str,
) -> Result<Value, Error> {
    let selector = format_selector(label_selector, Some(name))?;
    deployment::delete(cluster, Some(name), ns, None, true).await?;
    // An empty selector would match everything in the namespace: then only the
    // deployment goes (its replica sets and pods follow by garbage collection).
    if selector.is_empty() {
        return Ok(Value::Null);
    }
    replicaset::delete(cluster, None, ns, Some(&selector), true).await?;
    let pods = pod::list_pods(cluster, ns, Some(&selector)).await?;
    let names = pods.into_iter().filter_map(|p| p.metadata.name);
    // Garbage collection of the replica sets deletes pods concurrently; one that is
    // already gone is not an error.
    let grace_0 = DeleteParams::default().grace_period(0);
    pod::delete_named(cluster, ns, names, &grace_0, true).await?;
    Ok(Value::Null)
}
