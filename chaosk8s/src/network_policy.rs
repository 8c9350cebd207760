//! `chaosk8s.networking.actions`'s NetworkPolicy functions: create one from a spec or a
//! file, remove one, and the ready-made policies (deny all ingress, deny all egress, allow
//! DNS) with their removals, as chaostoolkit-kubernetes 0.39 writes them. The policies
//! are sent as written, so the API server validates them; they act only where the
//! cluster's network enforces NetworkPolicy.

use std::path::Path;

use kube::api::DeleteParams;
use serde_json::{Map, Value, json};

use crate::FunctionSpec;
use crate::catalog::{MAPPING, STRING, ns, optional, required, spec};
use crate::client::Cluster;
use crate::error::Error;
use crate::manifest::read_manifest;
use crate::node::mapping;
use crate::raw;

pub(crate) const NETWORKING_ACTIONS: &str = "chaosk8s.networking.actions";

pub(crate) const DENY_ALL_INGRESS: &str = "chaostoolkit-deny-all-ingress";
pub(crate) const DENY_ALL_EGRESS: &str = "chaostoolkit-deny-all-egress";
pub(crate) const ALLOW_DNS: &str = "chaostoolkit-allow-dns";

fn policies(ns: &str) -> String {
    raw::namespaced("networking.k8s.io/v1", ns, "networkpolicies")
}

/// `create_network_policy`: the policy in the file `spec_path` when that is a file (JSON
/// or YAML by its extension), else `spec`.
pub(crate) async fn create(
    cluster: &Cluster,
    spec: Option<Value>,
    spec_path: Option<&str>,
    ns: &str,
) -> Result<Value, Error> {
    let body = match spec_path.filter(|p| Path::new(p).is_file()) {
        Some(path) => read_manifest(path)?,
        // 0.39 lets the client refuse a missing body (a pydantic ValidationError).
        None => spec.ok_or_else(|| {
            Error::ActivityFailed(
                "no policy given: neither `spec` nor a `spec_path` naming a file".into(),
            )
        })?,
    };
    raw::create(cluster, &policies(ns), &body).await?;
    Ok(Value::Null)
}

/// `remove_network_policy`: deletes the policy `name`.
pub(crate) async fn remove(cluster: &Cluster, name: &str, ns: &str) -> Result<Value, Error> {
    raw::delete(cluster, &policies(ns), name, &DeleteParams::default()).await?;
    Ok(Value::Null)
}

/// One of the ready-made policies, for the pods matching `label_selectors` (all pods of
/// the namespace when none is given).
fn ready_made(name: &str, label_selectors: Option<Map<String, Value>>) -> Value {
    // Python's truthiness: an empty mapping selects every pod.
    let pod_selector = match label_selectors.filter(|l| !l.is_empty()) {
        Some(labels) => json!({"matchLabels": labels}),
        None => json!({}),
    };
    let spec = match name {
        DENY_ALL_INGRESS => json!({
            "podSelector": pod_selector,
            "policyTypes": ["Ingress"],
            "ingress": [],
        }),
        DENY_ALL_EGRESS => json!({"podSelector": pod_selector, "policyTypes": ["Egress"]}),
        _ => json!({
            "podSelector": pod_selector,
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {}}],
                "ports": [
                    {"port": 53, "protocol": "UDP"},
                    {"port": 53, "protocol": "TCP"},
                ],
            }],
        }),
    };
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    })
}

fn selectors_and_ns() -> Vec<crate::ArgSpec> {
    vec![optional("label_selectors", MAPPING, Value::Null), ns()]
}

/// A ready-made policy's create and remove entries.
fn pair(
    create_name: &'static str,
    create_doc: &'static str,
    remove_name: &'static str,
    remove_doc: &'static str,
    run_create: crate::Run,
    run_remove: crate::Run,
) -> [FunctionSpec; 2] {
    [
        spec(
            NETWORKING_ACTIONS,
            create_name,
            create_doc,
            selectors_and_ns(),
            run_create,
        ),
        spec(
            NETWORKING_ACTIONS,
            remove_name,
            remove_doc,
            vec![ns()],
            run_remove,
        ),
    ]
}

async fn create_ready_made(
    cluster: &Cluster,
    args: &crate::args::Args,
    name: &str,
) -> Result<Value, Error> {
    let policy = ready_made(name, mapping(args, "label_selectors")?);
    create(cluster, Some(policy), None, &args.string("ns")?).await
}

/// The catalog entries of the NetworkPolicy functions.
pub(crate) fn functions() -> Vec<FunctionSpec> {
    let mut all = vec![
        spec(
            NETWORKING_ACTIONS,
            "create_network_policy",
            "Creates the NetworkPolicy in the file `spec_path` (JSON or YAML), or `spec` when that is not a file.",
            vec![
                optional("spec", MAPPING, Value::Null),
                optional("spec_path", STRING, Value::Null),
                ns(),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let spec = mapping(args, "spec")?.map(Value::Object);
                    create(
                        cluster,
                        spec,
                        args.non_empty("spec_path")?.as_deref(),
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        spec(
            NETWORKING_ACTIONS,
            "remove_network_policy",
            "Deletes the NetworkPolicy `name`.",
            vec![required("name", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    remove(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
        ),
    ];
    all.extend(pair(
        "deny_all_ingress",
        "Creates the NetworkPolicy chaostoolkit-deny-all-ingress: no traffic in to the pods matching `label_selectors` (every pod of `ns` when none).",
        "remove_deny_all_ingress",
        "Deletes the NetworkPolicy chaostoolkit-deny-all-ingress.",
        |args, cluster| Box::pin(create_ready_made(cluster, args, DENY_ALL_INGRESS)),
        |args, cluster| {
            Box::pin(async move { remove(cluster, DENY_ALL_INGRESS, &args.string("ns")?).await })
        },
    ));
    all.extend(pair(
        "deny_all_egress",
        "Creates the NetworkPolicy chaostoolkit-deny-all-egress: no traffic out of the pods matching `label_selectors` (every pod of `ns` when none).",
        "remove_deny_all_egress",
        "Deletes the NetworkPolicy chaostoolkit-deny-all-egress.",
        |args, cluster| Box::pin(create_ready_made(cluster, args, DENY_ALL_EGRESS)),
        |args, cluster| {
            Box::pin(async move { remove(cluster, DENY_ALL_EGRESS, &args.string("ns")?).await })
        },
    ));
    all.extend(pair(
        "allow_dns_access",
        "Creates the NetworkPolicy chaostoolkit-allow-dns: DNS (port 53, UDP and TCP) out of the pods matching `label_selectors` (every pod of `ns` when none) to any namespace.",
        "remove_allow_dns_access",
        "Deletes the NetworkPolicy chaostoolkit-allow-dns.",
        |args, cluster| Box::pin(create_ready_made(cluster, args, ALLOW_DNS)),
        |args, cluster| {
            Box::pin(async move { remove(cluster, ALLOW_DNS, &args.string("ns")?).await })
        },
    ));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_made_policies_select_pods_by_labels_or_all() {
        let all = ready_made(DENY_ALL_INGRESS, None);
        assert_eq!(all["spec"]["podSelector"], json!({}));
        assert_eq!(all["spec"]["ingress"], json!([]));
        assert_eq!(all["metadata"]["name"], DENY_ALL_INGRESS);
        let some = ready_made(
            DENY_ALL_EGRESS,
            Some(json!({"app": "web"}).as_object().unwrap().clone()),
        );
        assert_eq!(
            some["spec"],
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]})
        );
        let empty = ready_made(ALLOW_DNS, Some(Map::new()));
        assert_eq!(empty["spec"]["podSelector"], json!({}));
        assert_eq!(
            empty["spec"]["egress"][0]["ports"][1],
            json!({"port": 53, "protocol": "TCP"})
        );
    }
}
