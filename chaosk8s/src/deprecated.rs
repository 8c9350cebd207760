//! The deprecated `chaosk8s.probes` and `chaosk8s.actions` modules of chaosk8s 0.39.
//!
//! Every function but one is an alias: it calls a function of the per-kind modules with
//! its `raise_*` flag set, as the Python wrapper does. [`ALIASES`] is the one table of
//! (alias, target) rows; an alias's catalog entry is derived from its target's (the same
//! arguments in the same order, less the fixed flag, with the few defaults the wrapper
//! declares differently) and its handler is the target's, so nothing about a target is
//! written twice. Several aliases answer `null` because the Python wrapper returns
//! nothing. `kill_microservice` has a body of its own, here.
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
//!   instead of being sent literally (which makes 0.39 fail with a 400 whenever the
//!   default is used).

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::DeleteParams;
use serde_json::{Value, json};

use crate::args::{Args, format_selector};
use crate::catalog::{
    ACTIONS, DEPLOYMENT_ACTIONS, DEPLOYMENT_PROBES, NAME_SELECTOR, POD_PROBES, PROBES,
    SERVICE_ACTIONS, SERVICE_PROBES,
};
use crate::client::Cluster;
use crate::delete::delete_matching;
use crate::error::{Error, unknown};
use crate::{ArgSpec, FunctionSpec, pod};

/// A deprecated function that calls another.
pub(crate) struct Alias {
    pub(crate) module: &'static str,
    pub(crate) name: &'static str,
    doc: &'static str,
    /// The function it calls: module and name.
    pub(crate) target: (&'static str, &'static str),
    /// The target's `raise_*` flag, which the alias does not take and always sets.
    raises: Option<&'static str>,
    /// Arguments the alias declares differently from its target.
    declares: &'static [(&'static str, Declared)],
    /// `label_selector` is formatted with `name` before the call (the target does not).
    formats_selector: bool,
    /// The alias answers `null` whatever the target returns.
    answers_null: bool,
}

/// How an alias declares an argument its target declares otherwise.
#[derive(Clone, Copy)]
enum Declared {
    Required,
    Default(&'static str),
}

const fn alias(
    module: &'static str,
    name: &'static str,
    target: (&'static str, &'static str),
    raises: Option<&'static str>,
    doc: &'static str,
) -> Alias {
    Alias {
        module,
        name,
        doc,
        target,
        raises,
        declares: &[],
        formats_selector: false,
        answers_null: false,
    }
}

/// Every alias of the deprecated modules, in chaosk8s's order.
pub(crate) const ALIASES: &[Alias] = &[
    alias(
        PROBES,
        "all_microservices_healthy",
        (POD_PROBES, "all_pods_healthy"),
        Some("raise_on_any_unhealthy"),
        "Deprecated alias of chaosk8s.pod.probes.all_pods_healthy: true when every pod of `ns` is Running or Succeeded, fails otherwise.",
    ),
    Alias {
        answers_null: true,
        ..alias(
            PROBES,
            "microservice_available_and_healthy",
            (DEPLOYMENT_PROBES, "deployment_available_and_healthy"),
            Some("raise_on_unavailable"),
            "Deprecated alias of chaosk8s.deployment.probes.deployment_available_and_healthy; answers null when healthy, fails otherwise.",
        )
    },
    alias(
        PROBES,
        "microservice_is_not_available",
        (POD_PROBES, "pod_is_not_available"),
        Some("raise_on_is_available"),
        "Deprecated alias of chaosk8s.pod.probes.pod_is_not_available: fails when a pod selected by `label_selector` (formatted with `name`) is Running.",
    ),
    Alias {
        declares: &[
            ("name", Declared::Required),
            ("label_selector", Declared::Default(NAME_SELECTOR)),
        ],
        formats_selector: true,
        ..alias(
            PROBES,
            "service_endpoint_is_initialized",
            (SERVICE_PROBES, "service_is_initialized"),
            Some("raise_if_service_not_initialized"),
            "Deprecated alias of chaosk8s.service.probes.service_is_initialized: fails when no service named `name` matching `label_selector` (formatted with `name`) exists.",
        )
    },
    alias(
        PROBES,
        "deployment_is_fully_available",
        (DEPLOYMENT_PROBES, "deployment_fully_available"),
        Some("raise_on_not_fully_available"),
        "Deprecated alias of chaosk8s.deployment.probes.deployment_fully_available: waits up to `timeout` seconds for all replicas to be ready.",
    ),
    alias(
        PROBES,
        "deployment_is_not_fully_available",
        (DEPLOYMENT_PROBES, "deployment_not_fully_available"),
        Some("raise_on_fully_available"),
        "Deprecated alias of chaosk8s.deployment.probes.deployment_not_fully_available: waits up to `timeout` seconds for some replica not to be ready.",
    ),
    alias(
        PROBES,
        "read_microservices_logs",
        (POD_PROBES, "read_pod_logs"),
        None,
        "Deprecated alias of chaosk8s.pod.probes.read_pod_logs: the logs of each selected pod, keyed by pod name.",
    ),
    alias(
        PROBES,
        "secret_exists",
        (crate::secret::PROBES, "secret_exists"),
        None,
        "Deprecated alias of chaosk8s.secret.probes.secret_exists: true when a secret named `name` and/or matching `label_selector` exists in `ns`.",
    ),
    alias(
        ACTIONS,
        "scale_microservice",
        (DEPLOYMENT_ACTIONS, "scale_deployment"),
        None,
        "Deprecated alias of chaosk8s.deployment.actions.scale_deployment: sets the deployment's replicas.",
    ),
    alias(
        ACTIONS,
        "start_microservice",
        (DEPLOYMENT_ACTIONS, "create_deployment"),
        None,
        "Deprecated alias of chaosk8s.deployment.actions.create_deployment: creates the deployment described in the JSON or YAML file `spec_path`.",
    ),
    alias(
        ACTIONS,
        "remove_service_endpoint",
        (SERVICE_ACTIONS, "delete_service"),
        None,
        "Deprecated alias of chaosk8s.service.actions.delete_service: deletes the service `name`.",
    ),
];

impl Alias {
    /// The alias's catalog entry, derived from its target's.
    pub(crate) fn entry(&self, target: &FunctionSpec) -> FunctionSpec {
        let arguments = target
            .arguments
            .iter()
            .filter(|arg| Some(arg.name) != self.raises)
            .map(|arg| {
                let declared = self.declares.iter().find(|(name, _)| *name == arg.name);
                match declared {
                    None => arg.clone(),
                    Some((_, Declared::Required)) => ArgSpec {
                        default: None,
                        ..arg.clone()
                    },
                    Some((_, Declared::Default(text))) => ArgSpec {
                        default: Some(json!(text)),
                        ..arg.clone()
                    },
                }
            })
            .collect();
        FunctionSpec {
            module: self.module,
            name: self.name,
            kind: target.kind,
            doc: self.doc,
            arguments,
            run: run_alias,
        }
    }
}

/// The handler of every alias: the target's, on the alias's arguments plus the flag.
fn run_alias<'a>(args: &'a Args, cluster: &'a Cluster) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let (module, name) = args.function();
        let alias = ALIASES
            .iter()
            .find(|a| a.module == module && a.name == name)
            .ok_or_else(|| unknown(module, name))?;
        let (target_module, target_name) = alias.target;
        let target = crate::catalog::find(target_module, target_name)
            .ok_or_else(|| unknown(target_module, target_name))?;
        let mut given = args.values().clone();
        if let Some(flag) = alias.raises {
            given.insert(flag.into(), Value::Bool(true));
        }
        if alias.formats_selector {
            let name = args.string("name")?;
            let selector = args
                .non_empty("label_selector")?
                .map(|s| format_selector(&s, Some(&name)))
                .transpose()?;
            given.insert(
                "label_selector".into(),
                selector.map_or(Value::Null, Value::String),
            );
        }
        let target_args = Args::new(&target, &given)?;
        let value = (target.run)(&target_args, cluster).await?;
        Ok(if alias.answers_null {
            Value::Null
        } else {
            value
        })
    })
}

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
    delete_matching::<Deployment>(cluster, Some(name), ns, None, true).await?;
    // An empty selector would match everything in the namespace: then only the
    // deployment goes (its replica sets and pods follow by garbage collection).
    if selector.is_empty() {
        return Ok(Value::Null);
    }
    delete_matching::<ReplicaSet>(cluster, None, ns, Some(&selector), true).await?;
    let pods = pod::list_pods(cluster, ns, Some(&selector)).await?;
    let names = pods.into_iter().filter_map(|p| p.metadata.name);
    // Garbage collection of the replica sets deletes pods concurrently; one that is
    // already gone is not an error.
    let grace_0 = DeleteParams::default().grace_period(0);
    pod::delete_named(cluster, ns, names, &grace_0, true).await?;
    Ok(Value::Null)
}
