//! `chaosk8s.statefulset.probes` and `chaosk8s.statefulset.actions`, with their catalog
//! entries.

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::catalog::{INTEGER, STRING, ns, readiness_arguments, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::readiness::{self, Readiness, true_or_fail};
use crate::{FunctionSpec, manifest};

pub(crate) const PROBES: &str = "chaosk8s.statefulset.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.statefulset.actions";

/// As chaosk8s decides it: the ready replicas equal the desired ones.
fn is_ready(set: &StatefulSet) -> bool {
    let ready = set.status.as_ref().and_then(|s| s.ready_replicas);
    ready == set.spec.replicas
}

async fn scale(cluster: &Cluster, name: &str, replicas: i64, ns: &str) -> Result<Value, Error> {
    let api: Api<StatefulSet> = Api::namespaced(cluster.client(), ns);
    let patch = json!({"spec": {"replicas": replicas}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => Ok(Value::Null),
        Err(kube::Error::Api(status)) => Err(Error::ActivityFailed(format!(
            "failed to scale '{name}' to {replicas} replicas: ({}) {}: {}",
            status.code, status.reason, status.message
        ))),
        Err(e) => Err(cluster.error(e)),
    }
}

pub(crate) fn catalog() -> Vec<FunctionSpec> {
    vec![
        manifest::create_entry::<StatefulSet>(
            ACTIONS,
            "create_statefulset",
            "Creates the stateful set described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
        ),
        spec(
            ACTIONS,
            "scale_statefulset",
            "Sets the replicas of the stateful set `name`.",
            vec![
                required("name", STRING),
                required("replicas", INTEGER),
                ns(),
            ],
            |args, cluster| {
                Box::pin(async move {
                    scale(
                        cluster,
                        &args.string("name")?,
                        args.integer("replicas")?,
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        crate::delete::delete_entry::<StatefulSet>(
            ACTIONS,
            "remove_statefulset",
            "Deletes the stateful set `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
        ),
        spec(
            PROBES,
            "statefulset_fully_available",
            "Waits up to `timeout` seconds until all replicas of the stateful set are ready; true then, otherwise fails (or false when `raise_on_not_fully_available` is false).",
            readiness_arguments(Some("raise_on_not_fully_available")),
            |args, cluster| {
                Box::pin(async move {
                    let wait = Readiness::from_args(args)?;
                    let reached = readiness::reaches(cluster, &wait, true, is_ready).await?;
                    let message = format!(
                        "microservice '{}' failed to recover within {}s",
                        wait.name, wait.timeout
                    );
                    true_or_fail(
                        reached,
                        args.boolean("raise_on_not_fully_available")?,
                        message,
                    )
                })
            },
        ),
        spec(
            PROBES,
            "statefulset_not_fully_available",
            "Waits up to `timeout` seconds until some replica of the stateful set is not ready; true then, otherwise fails (or false when `raise_on_fully_available` is false).",
            readiness_arguments(Some("raise_on_fully_available")),
            |args, cluster| {
                Box::pin(async move {
                    let wait = Readiness::from_args(args)?;
                    let reached = readiness::reaches(cluster, &wait, false, is_ready).await?;
                    let message = format!(
                        "microservice '{}' failed to stop running within {}s",
                        wait.name, wait.timeout
                    );
                    true_or_fail(reached, args.boolean("raise_on_fully_available")?, message)
                })
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetSpec, StatefulSetStatus};

    #[test]
    fn readiness_compares_ready_with_desired_replicas() {
        let set = |replicas: Option<i32>, ready: Option<i32>| StatefulSet {
            spec: StatefulSetSpec {
                replicas,
                ..Default::default()
            },
            status: Some(StatefulSetStatus {
                ready_replicas: ready,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(is_ready(&set(Some(2), Some(2))));
        assert!(!is_ready(&set(Some(2), Some(1))));
        assert!(!is_ready(&set(Some(0), None)), "0 desired vs none reported");
    }
}
