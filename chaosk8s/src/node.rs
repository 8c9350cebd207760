//! `chaosk8s.node.probes` and `chaosk8s.node.actions`: listing nodes and their
//! conditions, cordoning, draining, creating and deleting nodes, as chaostoolkit-kubernetes
//! 0.39 does it (which nodes a call picks, what it answers, its `ActivityFailed`
//! messages). Where 0.39 crashes on its own bug, the function does what its docstring
//! says instead; each such case is listed on the function.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, EvictParams, ListParams};
use rand::seq::IteratorRandom;
use serde_json::{Map, Value, json};

use crate::FunctionSpec;
use crate::args::Args;
use crate::catalog::{BOOLEAN, INTEGER, MAPPING, STRING, optional, spec};
use crate::client::Cluster;
use crate::error::{Error, invalid};
use crate::raw;

pub(crate) const NODE_PROBES: &str = "chaosk8s.node.probes";
pub(crate) const NODE_ACTIONS: &str = "chaosk8s.node.actions";

const NODES: &str = "/api/v1/nodes";
/// How often a drain looks whether its evicted pods are gone (0.39 waits 10 s; only how
/// soon the call returns depends on it).
const DRAIN_POLL: Duration = Duration::from_secs(2);

/// Which nodes a call acts on, as 0.39's `_select_nodes` reads its arguments.
#[derive(Debug, Default, Clone)]
pub(crate) struct NodeSelection {
    pub name: Option<String>,
    pub label_selector: Option<String>,
    /// `count` nodes picked at random (none when 0 or less).
    pub count: Option<i64>,
    /// Only nodes running a pod of `pod_namespace` matching this selector (both needed).
    pub pod_label_selector: Option<String>,
    pub pod_namespace: Option<String>,
    /// Only the first node listed.
    pub first: bool,
}

/// The nodes `selection` picks; fails when none matches. A node hosting several matching
/// pods is listed once per pod, as in 0.39.
async fn select(cluster: &Cluster, selection: &NodeSelection) -> Result<Vec<Node>, Error> {
    let api: Api<Node> = Api::all(cluster.client());
    let mut params = ListParams::default();
    if let Some(name) = &selection.name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    if let Some(selector) = &selection.label_selector {
        params = params.labels(selector);
    }
    let listed = api.list(&params).await.map_err(|e| cluster.error(e))?.items;
    let mut nodes = match (&selection.pod_label_selector, &selection.pod_namespace) {
        (Some(selector), Some(ns)) => {
            let pods: Api<Pod> = Api::namespaced(cluster.client(), ns);
            let pods = pods
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| cluster.error(e))?
                .items;
            let mut hosting = Vec::new();
            for node in &listed {
                for pod in &pods {
                    let on = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
                    if on == node.metadata.name.as_deref() {
                        hosting.push(node.clone());
                    }
                }
            }
            hosting
        }
        _ => listed,
    };
    if nodes.is_empty() {
        return Err(Error::ActivityFailed(
            "failed to find a node that matches selector".into(),
        ));
    }
    if selection.first {
        nodes.truncate(1);
    } else if let Some(count) = selection.count {
        // 0.39 draws with replacement (`random.choices`), so a node could be picked twice;
        // here each is picked at most once.
        let count = usize::try_from(count).unwrap_or(0);
        nodes = nodes.into_iter().sample(&mut rand::rng(), count);
    }
    tracing::debug!(nodes = ?nodes.iter().map(|n| n.name_any()).collect::<Vec<_>>(), "picked nodes");
    Ok(nodes)
}

/// `get_nodes`: the node list as the API server answered it.
pub(crate) async fn get_nodes(
    cluster: &Cluster,
    label_selector: Option<&str>,
) -> Result<Value, Error> {
    let mut params = ListParams::default();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    raw::list(cluster, NODES, &params).await
}

/// Each node's name and its conditions, `type: status` (`{"name": ..., "Ready": "True"}`).
/// 0.39 fails with a TypeError on a node that reports no conditions yet; such a node is
/// listed with its name only.
pub(crate) async fn status_conditions(
    cluster: &Cluster,
    label_selector: Option<&str>,
) -> Result<Vec<Map<String, Value>>, Error> {
    let api: Api<Node> = Api::all(cluster.client());
    let mut params = ListParams::default();
    if let Some(selector) = label_selector {
        params = params.labels(selector);
    }
    let nodes = api.list(&params).await.map_err(|e| cluster.error(e))?.items;
    Ok(nodes
        .iter()
        .map(|node| {
            let mut entry = Map::new();
            entry.insert("name".into(), json!(node.name_any()));
            let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
            for condition in conditions.into_iter().flatten() {
                entry.insert(condition.type_.clone(), json!(condition.status));
            }
            entry
        })
        .collect())
}

/// True when every selected node has each `(type, status)` of `expected`; a condition a
/// node does not report fails only when `missing_fails`.
fn all_match(nodes: &[Map<String, Value>], expected: &[(&str, &str)], missing_fails: bool) -> bool {
    nodes.iter().all(|node| {
        expected.iter().all(|(kind, status)| match node.get(*kind) {
            Some(value) => value.as_str() == Some(*status),
            None => !missing_fails,
        })
    })
}

/// What `nodes_must_be_healthy` expects of each condition a node reports.
const HEALTHY: &[(&str, &str)] = &[
    ("FrequentKubeletRestart", "False"),
    ("FrequentDockerRestart", "False"),
    ("FrequentContainerdRestart", "False"),
    ("ReadonlyFilesystem", "False"),
    ("KernelDeadlock", "False"),
    ("CorruptDockerOverlay2", "False"),
    ("FrequentUnregisterNetDevice", "False"),
    ("NetworkUnavailable", "False"),
    ("MemoryPressure", "False"),
    ("DiskPressure", "False"),
    ("PIDPressure", "False"),
    ("Ready", "True"),
];

/// Sets `spec.unschedulable` on each selected node; their names.
pub(crate) async fn set_unschedulable(
    cluster: &Cluster,
    selection: &NodeSelection,
    unschedulable: bool,
) -> Result<Vec<String>, Error> {
    let nodes = select(cluster, selection).await?;
    let body = json!({"spec": {"unschedulable": unschedulable}});
    let what = if unschedulable {
        "unschedule"
    } else {
        "schedule"
    };
    let mut done = Vec::new();
    for node in nodes {
        let name = node.name_any();
        raw::patch(cluster, NODES, &name, &body)
            .await
            .map_err(|e| raw::failed_with_body(e, &format!("Failed to {what} node '{name}': ")))?;
        done.push(name);
    }
    Ok(done)
}

/// What a drain does with one pod of the node, in 0.39's order of checks.
#[derive(Debug, PartialEq)]
enum Eviction {
    Evict,
    Skip,
    /// Neither finished nor owned by a controller: the drain stops.
    Unmanaged,
}

fn eviction_of(pod: &Pod, delete_pods_with_local_storage: bool) -> Eviction {
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    if mirror {
        return Eviction::Skip;
    }
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    if volumes.into_iter().flatten().any(|v| v.empty_dir.is_some()) {
        return if delete_pods_with_local_storage {
            Eviction::Evict
        } else {
            Eviction::Skip
        };
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Eviction::Evict;
    }
    // 0.39 fails with a TypeError on a pod without owners; it is unmanaged.
    for owner in pod.metadata.owner_references.iter().flatten() {
        if owner.kind == "DaemonSet" {
            return Eviction::Skip;
        }
        if owner.controller == Some(true) {
            return Eviction::Evict;
        }
    }
    Eviction::Unmanaged
}

/// The drain's own arguments beyond the node selection.
pub(crate) struct Drain {
    pub delete_pods_with_local_storage: bool,
    pub timeout: Duration,
}

/// `drain_nodes`: cordons the selected nodes, then evicts each one's pods (as `kubectl
/// drain --ignore-daemonsets`) and waits until they are gone or replaced; the nodes' names.
pub(crate) async fn drain(
    cluster: &Cluster,
    selection: &NodeSelection,
    drain: &Drain,
) -> Result<Vec<String>, Error> {
    let nodes = select(cluster, selection).await?;
    for node in &nodes {
        let one = NodeSelection {
            name: Some(node.name_any()),
            ..NodeSelection::default()
        };
        set_unschedulable(cluster, &one, true).await?;
    }
    let all_pods: Api<Pod> = Api::all(cluster.client());
    for node in &nodes {
        let node_name = node.name_any();
        let on_node = ListParams::default().fields(&format!("spec.nodeName={node_name}"));
        let pods = all_pods
            .list(&on_node)
            .await
            .map_err(|e| cluster.error(e))?
            .items;
        let mut candidates = Vec::new();
        for pod in pods {
            match eviction_of(&pod, drain.delete_pods_with_local_storage) {
                Eviction::Evict => candidates.push(pod),
                Eviction::Skip => {}
                Eviction::Unmanaged => {
                    return Err(Error::ActivityFailed(format!(
                        "Pod '{}' on node '{node_name}' is unmanaged, cannot drain this node. Delete it manually first?",
                        pod.name_any()
                    )));
                }
            }
        }
        for pod in &candidates {
            let api: Api<Pod> =
                Api::namespaced(cluster.client(), &pod.namespace().unwrap_or_default());
            api.evict(&pod.name_any(), &EvictParams::default())
                .await
                .map_err(|e| {
                    raw::failed_with_body(
                        cluster.error(e),
                        &format!("Failed to evict pod {}: ", pod.name_any()),
                    )
                })?;
        }
        wait_gone(cluster, candidates, drain.timeout).await?;
    }
    Ok(nodes.iter().map(|n| n.name_any()).collect())
}

/// Waits until each pod is gone or replaced by one of the same name (another uid).
async fn wait_gone(cluster: &Cluster, mut pods: Vec<Pod>, timeout: Duration) -> Result<(), Error> {
    let started = tokio::time::Instant::now();
    while !pods.is_empty() {
        if started.elapsed() > timeout {
            let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
            return Err(Error::ActivityFailed(format!(
                "Draining nodes did not completed within {}s. Remaining pods are:\n{}",
                timeout.as_secs(),
                names.join("\n")
            )));
        }
        let mut pending = Vec::new();
        for pod in pods {
            let api: Api<Pod> =
                Api::namespaced(cluster.client(), &pod.namespace().unwrap_or_default());
            match api.get(&pod.name_any()).await {
                Ok(now) if now.metadata.uid != pod.metadata.uid => {}
                Ok(_) => pending.push(pod),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                // 0.39 keeps waiting on any other refusal.
                Err(kube::Error::Api(_)) => pending.push(pod),
                Err(e) => return Err(cluster.error(e)),
            }
        }
        pods = pending;
        if !pods.is_empty() {
            tokio::time::sleep(DRAIN_POLL).await;
        }
    }
    Ok(())
}

/// `delete_nodes`: deletes the selected nodes without draining them; their names. 0.39
/// fails with an AttributeError after deleting the first node (it reads the deleted Node
/// as a Status), and with a TypeError when `all` is set; here every selected node is
/// deleted and named.
pub(crate) async fn delete(
    cluster: &Cluster,
    selection: &NodeSelection,
    grace_period_seconds: Option<u32>,
) -> Result<Vec<String>, Error> {
    let nodes = select(cluster, selection).await?;
    let params = DeleteParams {
        grace_period_seconds,
        ..DeleteParams::default()
    };
    let mut deleted: Vec<String> = Vec::new();
    for node in nodes {
        let name = node.name_any();
        // A node picked twice (it hosts two matching pods) is deleted once.
        if deleted.contains(&name) {
            continue;
        }
        raw::delete(cluster, NODES, &name, &params).await?;
        deleted.push(name);
    }
    Ok(deleted)
}

/// `key_name` as the API spells it: `keyName` (and the Python client's few acronyms).
fn camel_case(key: &str) -> String {
    let acronym = match key {
        "pod_cidr" => Some("podCIDR"),
        "pod_cid_rs" => Some("podCIDRs"),
        "provider_id" => Some("providerID"),
        "external_id" => Some("externalID"),
        _ => None,
    };
    if let Some(field) = acronym {
        return field.to_string();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Python's keyword arguments of `V1ObjectMeta(**meta)` / `V1NodeSpec(**spec)`, in the
/// API's camelCase; a key that is no field of `T` is refused (as the Python client's model refuses it).
/// The values are sent as given: the API server validates them.
fn python_model<T>(arg: &str, given: &Map<String, Value>) -> Result<Value, Error>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let mut camel = Map::new();
    for (key, value) in given {
        let field = camel_case(key);
        let one: T = serde_json::from_value(json!({ field.clone(): value }))
            .map_err(|e| invalid(arg, format!("field '{key}': {e}")))?;
        let kept = serde_json::to_value(&one).map_err(|e| Error::Client(e.to_string()))?;
        if !value.is_null() && kept.get(&field).is_none() {
            return Err(invalid(arg, format!("has no field '{key}'")));
        }
        camel.insert(field, value.clone());
    }
    Ok(Value::Object(camel))
}

/// `create_node`: creates a Node from `meta` (ObjectMeta's fields) and `spec` (NodeSpec's),
/// snake_case as in Python; the created node. An API refusal fails with its body.
pub(crate) async fn create(
    cluster: &Cluster,
    meta: Option<&Map<String, Value>>,
    spec: Option<&Map<String, Value>>,
) -> Result<Value, Error> {
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let mut body = json!({"apiVersion": "v1", "kind": "Node"});
    // Python's truthiness: an empty dict is not sent.
    if let Some(meta) = meta.filter(|m| !m.is_empty()) {
        body["metadata"] = python_model::<ObjectMeta>("meta", meta)?;
    }
    if let Some(spec) = spec.filter(|s| !s.is_empty()) {
        body["spec"] = python_model::<NodeSpec>("spec", spec)?;
    }
    raw::create(cluster, NODES, &body)
        .await
        .map_err(|e| raw::failed_with_body(e, "Creating new node failed: "))
}

/// A `Dict[str, Any]` argument, `None` for null.
pub(crate) fn mapping(args: &Args, name: &str) -> Result<Option<Map<String, Value>>, Error> {
    match args.values().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(other) => Err(invalid(name, format!("must be a mapping, got {other}"))),
    }
}

/// An integer, `None` for null.
fn opt_integer(args: &Args, name: &str) -> Result<Option<i64>, Error> {
    match args.values().get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => args.integer(name).map(Some),
    }
}

fn selection_of(args: &Args, with_pods: bool) -> Result<NodeSelection, Error> {
    let name = match args.values().contains_key("name") {
        true => args.non_empty("name")?,
        false => None,
    };
    let (pod_label_selector, pod_namespace) = if with_pods {
        (
            args.non_empty("pod_label_selector")?,
            args.non_empty("pod_namespace")?,
        )
    } else {
        (None, None)
    };
    Ok(NodeSelection {
        name,
        label_selector: args.non_empty("label_selector")?,
        count: None,
        pod_label_selector,
        pod_namespace,
        first: false,
    })
}

fn names(list: Vec<String>) -> Value {
    json!(list)
}

fn label_selector_only() -> Vec<crate::ArgSpec> {
    vec![optional("label_selector", STRING, Value::Null)]
}

fn name_and_selector() -> Vec<crate::ArgSpec> {
    vec![
        optional("name", STRING, Value::Null),
        optional("label_selector", STRING, Value::Null),
    ]
}

/// The catalog entries of `chaosk8s.node.probes` and `chaosk8s.node.actions`.
pub(crate) fn functions() -> Vec<FunctionSpec> {
    vec![
        spec(
            NODE_PROBES,
            "get_nodes",
            "The cluster's nodes (those matching `label_selector` when given), as the API server lists them.",
            label_selector_only(),
            |args, cluster| {
                Box::pin(async move {
                    get_nodes(cluster, args.non_empty("label_selector")?.as_deref()).await
                })
            },
        ),
        spec(
            NODE_PROBES,
            "all_nodes_must_be_ready_to_schedule",
            "True when every node (matching `label_selector`) has the condition Ready True.",
            label_selector_only(),
            |args, cluster| {
                Box::pin(async move {
                    let nodes =
                        status_conditions(cluster, args.non_empty("label_selector")?.as_deref())
                            .await?;
                    Ok(json!(all_match(&nodes, &[("Ready", "True")], true)))
                })
            },
        ),
        spec(
            NODE_PROBES,
            "get_all_node_status_conditions",
            "Each node's name and conditions (`{\"name\": ..., \"Ready\": \"True\", ...}`), those matching `label_selector` when given.",
            label_selector_only(),
            |args, cluster| {
                Box::pin(async move {
                    let nodes =
                        status_conditions(cluster, args.non_empty("label_selector")?.as_deref())
                            .await?;
                    Ok(json!(nodes))
                })
            },
        ),
        spec(
            NODE_PROBES,
            "verify_nodes_condition",
            "True when every node (matching `label_selector`) has the condition `condition_type` with the status `condition_value`.",
            vec![
                optional("condition_type", STRING, json!("PIDPressure")),
                optional("condition_value", STRING, json!("False")),
                optional("label_selector", STRING, Value::Null),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let nodes =
                        status_conditions(cluster, args.non_empty("label_selector")?.as_deref())
                            .await?;
                    let kind = args.string("condition_type")?;
                    let value = args.string("condition_value")?;
                    Ok(json!(all_match(&nodes, &[(&kind, &value)], true)))
                })
            },
        ),
        spec(
            NODE_PROBES,
            "nodes_must_be_healthy",
            "True when no node (matching `label_selector`) reports a pressure, a restart loop, a read-only filesystem, a kernel deadlock or an unavailable network, and each is Ready.",
            label_selector_only(),
            |args, cluster| {
                Box::pin(async move {
                    let nodes =
                        status_conditions(cluster, args.non_empty("label_selector")?.as_deref())
                            .await?;
                    Ok(json!(all_match(&nodes, HEALTHY, false)))
                })
            },
        ),
        spec(
            NODE_ACTIONS,
            "create_node",
            "Creates a node from `meta` (ObjectMeta's fields) and `spec` (NodeSpec's); the created node.",
            vec![
                optional("meta", MAPPING, Value::Null),
                optional("spec", MAPPING, Value::Null),
            ],
            |args, cluster| {
                Box::pin(async move {
                    create(
                        cluster,
                        mapping(args, "meta")?.as_ref(),
                        mapping(args, "spec")?.as_ref(),
                    )
                    .await
                })
            },
        ),
        spec(
            NODE_ACTIONS,
            "delete_nodes",
            "Deletes nodes without draining them: the first matching `label_selector` (and hosting pods of `pod_namespace` matching `pod_label_selector`), one at random (`rand`), `count` at random, or all (`all`); their names.",
            vec![
                optional("label_selector", STRING, Value::Null),
                optional("all", BOOLEAN, json!(false)),
                optional("rand", BOOLEAN, json!(false)),
                optional("count", INTEGER, Value::Null),
                optional("grace_period_seconds", INTEGER, Value::Null),
                optional("pod_label_selector", STRING, Value::Null),
                optional("pod_namespace", STRING, Value::Null),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let all = args.boolean("all")?;
                    let rand = args.boolean("rand")?;
                    let mut selection = selection_of(args, true)?;
                    let count = opt_integer(args, "count")?;
                    selection.first = !all && !rand && count.is_none_or(|c| c < 1);
                    selection.count = if rand { Some(1) } else { count };
                    if all {
                        selection = NodeSelection::default();
                    }
                    let grace = opt_integer(args, "grace_period_seconds")?
                        .map(|g| {
                            u32::try_from(g).map_err(|_| {
                                invalid(
                                    "grace_period_seconds",
                                    format!("must be 0 or more seconds, got {g}"),
                                )
                            })
                        })
                        .transpose()?;
                    Ok(names(delete(cluster, &selection, grace).await?))
                })
            },
        ),
        spec(
            NODE_ACTIONS,
            "cordon_node",
            "Marks the node `name` (or those matching `label_selector`) unschedulable; their names.",
            name_and_selector(),
            |args, cluster| {
                Box::pin(async move {
                    let selection = selection_of(args, false)?;
                    Ok(names(set_unschedulable(cluster, &selection, true).await?))
                })
            },
        ),
        spec(
            NODE_ACTIONS,
            "drain_nodes",
            "Cordons the node `name` (or those matching `label_selector`, `count` of them at random, or those hosting pods of `pod_namespace` matching `pod_label_selector`), evicts their pods as `kubectl drain --ignore-daemonsets` does and waits up to `timeout` seconds for them to go; their names.",
            vec![
                optional("name", STRING, Value::Null),
                optional("label_selector", STRING, Value::Null),
                optional("delete_pods_with_local_storage", BOOLEAN, json!(false)),
                optional("timeout", INTEGER, json!(120)),
                optional("count", INTEGER, Value::Null),
                optional("pod_label_selector", STRING, Value::Null),
                optional("pod_namespace", STRING, Value::Null),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let mut selection = selection_of(args, true)?;
                    selection.count = opt_integer(args, "count")?;
                    let timeout = args.seconds("timeout")?;
                    let timeout = checked_timeout(timeout)?;
                    let options = Drain {
                        delete_pods_with_local_storage: args
                            .boolean("delete_pods_with_local_storage")?,
                        timeout,
                    };
                    Ok(names(drain(cluster, &selection, &options).await?))
                })
            },
        ),
        spec(
            NODE_ACTIONS,
            "uncordon_node",
            "Marks the node `name` (or those matching `label_selector`) schedulable again; their names.",
            name_and_selector(),
            |args, cluster| {
                Box::pin(async move {
                    let selection = selection_of(args, false)?;
                    Ok(names(set_unschedulable(cluster, &selection, false).await?))
                })
            },
        ),
    ]
}

/// The longest a drain may wait: 30 days, the runner's bound for any timer.
const MAX_TIMEOUT: u64 = 30 * 24 * 3600;

fn checked_timeout(seconds: u64) -> Result<Duration, Error> {
    if seconds > MAX_TIMEOUT {
        return Err(invalid(
            "timeout",
            format!("must be at most {MAX_TIMEOUT} seconds (30 days), got {seconds}"),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use k8s_openapi::api::core::v1::{EmptyDirVolumeSource, PodSpec, PodStatus, Volume};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    #[test]
    fn lists_the_node_functions_of_0_39() {
        let mut names: Vec<_> = functions().iter().map(|f| (f.module, f.name)).collect();
        names.sort();
        assert_eq!(
            names,
            [
                (NODE_ACTIONS, "cordon_node"),
                (NODE_ACTIONS, "create_node"),
                (NODE_ACTIONS, "delete_nodes"),
                (NODE_ACTIONS, "drain_nodes"),
                (NODE_ACTIONS, "uncordon_node"),
                (NODE_PROBES, "all_nodes_must_be_ready_to_schedule"),
                (NODE_PROBES, "get_all_node_status_conditions"),
                (NODE_PROBES, "get_nodes"),
                (NODE_PROBES, "nodes_must_be_healthy"),
                (NODE_PROBES, "verify_nodes_condition"),
            ]
        );
        let drain = catalog::find(NODE_ACTIONS, "drain_nodes").unwrap();
        let timeout = drain
            .arguments
            .iter()
            .find(|a| a.name == "timeout")
            .unwrap();
        assert_eq!(timeout.default, Some(json!(120)));
        let verify = catalog::find(NODE_PROBES, "verify_nodes_condition").unwrap();
        assert_eq!(verify.arguments[0].default, Some(json!("PIDPressure")));
        assert_eq!(verify.arguments[1].default, Some(json!("False")));
    }

    fn conditions(pairs: &[(&str, &str)]) -> Map<String, Value> {
        let mut node = Map::new();
        node.insert("name".into(), json!("n"));
        for (k, v) in pairs {
            node.insert((*k).into(), json!(v));
        }
        node
    }

    #[test]
    fn health_checks_only_the_conditions_a_node_reports() {
        let healthy = conditions(&[("Ready", "True"), ("MemoryPressure", "False")]);
        let pressed = conditions(&[("Ready", "True"), ("DiskPressure", "True")]);
        let silent = conditions(&[]);
        assert!(all_match(std::slice::from_ref(&healthy), HEALTHY, false));
        assert!(!all_match(&[healthy.clone(), pressed], HEALTHY, false));
        assert!(all_match(std::slice::from_ref(&silent), HEALTHY, false));
        // Readiness asks for the condition itself.
        assert!(!all_match(&[silent], &[("Ready", "True")], true));
        assert!(all_match(&[healthy], &[("Ready", "True")], true));
        assert!(all_match(&[], &[("Ready", "True")], true));
    }

    fn pod(phase: &str, owner: Option<(&str, bool)>, empty_dir: bool) -> Pod {
        let mut pod = Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        pod.spec = Some(PodSpec {
            volumes: empty_dir.then(|| {
                vec![Volume {
                    name: "scratch".into(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Volume::default()
                }]
            }),
            ..PodSpec::default()
        });
        pod.metadata.owner_references = owner.map(|(kind, controller)| {
            vec![OwnerReference {
                kind: kind.into(),
                controller: Some(controller),
                ..OwnerReference::default()
            }]
        });
        pod
    }

    #[test]
    fn drain_picks_pods_as_kubectl_drain_ignore_daemonsets() {
        use Eviction::*;
        let cases = [
            (
                pod("Running", Some(("ReplicaSet", true)), false),
                false,
                Evict,
            ),
            (
                pod("Running", Some(("DaemonSet", true)), false),
                false,
                Skip,
            ),
            (
                pod("Running", Some(("ReplicaSet", true)), true),
                false,
                Skip,
            ),
            (pod("Running", None, true), true, Evict),
            (pod("Succeeded", None, false), false, Evict),
            (pod("Running", None, false), false, Unmanaged),
            (
                pod("Running", Some(("ReplicaSet", false)), false),
                false,
                Unmanaged,
            ),
        ];
        for (i, (pod, local, expected)) in cases.into_iter().enumerate() {
            assert_eq!(eviction_of(&pod, local), expected, "case {i}");
        }
        let mut mirror = pod("Running", None, false);
        mirror.metadata.annotations =
            Some([("kubernetes.io/config.mirror".to_string(), "x".to_string())].into());
        assert_eq!(eviction_of(&mirror, false), Skip);
    }

    #[test]
    fn create_node_reads_python_keyword_arguments() {
        use k8s_openapi::api::core::v1::NodeSpec;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let meta = json!({"name": "n1", "labels": {"a": "b"}, "owner_references": []});
        let meta = python_model::<ObjectMeta>("meta", meta.as_object().unwrap()).unwrap();
        assert_eq!(
            meta,
            json!({"name": "n1", "labels": {"a": "b"}, "ownerReferences": []})
        );
        let spec = json!({"pod_cidr": "10.0.0.0/24", "unschedulable": true});
        let spec = python_model::<NodeSpec>("spec", spec.as_object().unwrap()).unwrap();
        assert_eq!(
            spec,
            json!({"podCIDR": "10.0.0.0/24", "unschedulable": true})
        );
        let err = python_model::<ObjectMeta>("meta", json!({"nmae": "x"}).as_object().unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "invalid argument 'meta': has no field 'nmae'");
        assert!(
            python_model::<ObjectMeta>("meta", json!({"labels": 3}).as_object().unwrap()).is_err()
        );
    }

    #[test]
    fn a_drain_waits_at_most_30_days() {
        assert!(checked_timeout(120).is_ok());
        assert!(checked_timeout(MAX_TIMEOUT + 1).is_err());
    }
}
