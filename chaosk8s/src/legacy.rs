//! The deprecated `chaosk8s.probes` and `chaosk8s.actions`, which delegate to the
//! per-kind modules as chaosk8s 0.39 does, with the same return values (several answer
//! `null` because the Python wrapper returns nothing).
//!
//! Deliberate differences from 0.39, both about the legacy default selector
//! `name in ({name})`, which 0.39 forwards unformatted to functions that never format it:
//! - `kill_microservice`: 0.39 deletes the deployment, then lists pods with the literal
//!   selector `name in ({name})`, which the API server rejects (400), so the action fails
//!   although the deployment is gone (its replica sets and pods then go by garbage
//!   collection). Here the selector is formatted with `name`, and the deployment, the
//!   replica sets and every pod it matches are deleted, the pods with a zero grace period:
//!   the behaviour the function documents and the tutorial relies on.
//! - `service_endpoint_is_initialized`: likewise the selector is formatted with `name`
//!   instead of being sent literally (which makes 0.39 fail with a 400 whenever the default
//!   is used).

use kube::api::DeleteParams;
use serde_json::Value;

use crate::args::{Args, format_selector};
use crate::client::Cluster;
use crate::deployment::{self, Readiness};
use crate::error::{Error, unknown};
use crate::{pod, replicaset, service};

pub(crate) async fn call(func: &str, args: &Args, cluster: &Cluster) -> Result<Value, Error> {
    match func {
        "all_microservices_healthy" => {
            pod::all_pods_healthy(cluster, &args.string("ns")?, true).await
        }
        "microservice_available_and_healthy" => {
            deployment::available_and_healthy(
                cluster,
                &args.string("name")?,
                &args.string("ns")?,
                args.non_empty("label_selector")?.as_deref(),
                true,
            )
            .await?;
            Ok(Value::Null)
        }
        "microservice_is_not_available" => {
            pod::pod_is_not_available(
                cluster,
                &args.string("name")?,
                &args.string("ns")?,
                &args.string("label_selector")?,
                true,
            )
            .await
        }
        "service_endpoint_is_initialized" => {
            let name = args.string("name")?;
            let selector = args
                .non_empty("label_selector")?
                .map(|s| format_selector(&s, Some(&name)))
                .transpose()?;
            service::is_initialized(
                cluster,
                Some(&name),
                &args.string("ns")?,
                selector.as_deref(),
                true,
            )
            .await
        }
        "deployment_is_fully_available" => {
            deployment::fully_available(cluster, &Readiness::from_args(args)?, true).await
        }
        "deployment_is_not_fully_available" => {
            deployment::not_fully_available(cluster, &Readiness::from_args(args)?, true).await
        }
        "read_microservices_logs" => pod::read_pod_logs(cluster, args).await,
        "kill_microservice" => {
            kill_microservice(
                cluster,
                &args.string("name")?,
                &args.string("ns")?,
                &args.string("label_selector")?,
            )
            .await
        }
        "scale_microservice" => {
            deployment::scale(
                cluster,
                &args.string("name")?,
                args.integer("replicas")?,
                &args.string("ns")?,
            )
            .await
        }
        "start_microservice" => {
            deployment::create(cluster, &args.string("spec_path")?, &args.string("ns")?).await
        }
        "remove_service_endpoint" => {
            service::delete(cluster, &args.string("name")?, &args.string("ns")?).await
        }
        _ => Err(unknown("chaosk8s.probes/actions", func)),
    }
}

/// Deletes the deployment `name`, then the replica sets and pods matching the formatted
/// selector (pods with a zero grace period, so they are gone at once, not after the
/// controller's garbage collection).
async fn kill_microservice(
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
