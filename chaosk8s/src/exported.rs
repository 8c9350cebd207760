//! Every activity chaostoolkit-kubernetes 0.39 exports (what its `discover` lists), and
//! which way each runs here: natively, when the catalog has it, else through the Python
//! bridge (chaos-runner hands any function it has no native body for to the Python
//! extension, when one is installed).

use crate::catalog;

/// The exported activities of chaostoolkit-kubernetes 0.39, by module, in its discovery
/// order (`chaosk8s.load_exported_activities`).
const EXPORTED: &[(&str, &[&str])] = &[
    (
        "chaosk8s.actions",
        &[
            "kill_microservice",
            "remove_service_endpoint",
            "scale_microservice",
            "start_microservice",
        ],
    ),
    (
        "chaosk8s.probes",
        &[
            "all_microservices_healthy",
            "deployment_is_fully_available",
            "deployment_is_not_fully_available",
            "microservice_available_and_healthy",
            "microservice_is_not_available",
            "read_microservices_logs",
            "secret_exists",
            "service_endpoint_is_initialized",
        ],
    ),
    (
        "chaosk8s.daemonset.actions",
        &[
            "create_daemon_set",
            "delete_daemon_set",
            "update_daemon_set",
        ],
    ),
    (
        "chaosk8s.daemonset.probes",
        &[
            "daemon_set_available_and_healthy",
            "daemon_set_fully_available",
            "daemon_set_not_fully_available",
            "daemon_set_partially_available",
        ],
    ),
    (
        "chaosk8s.deployment.actions",
        &[
            "create_deployment",
            "delete_deployment",
            "rollout_deployment",
            "scale_deployment",
        ],
    ),
    (
        "chaosk8s.deployment.probes",
        &[
            "deployment_available_and_healthy",
            "deployment_fully_available",
            "deployment_not_fully_available",
            "deployment_partially_available",
        ],
    ),
    (
        "chaosk8s.namespace.actions",
        &["create_namespace", "delete_namespace"],
    ),
    ("chaosk8s.namespace.probes", &["namespace_exists"]),
    (
        "chaosk8s.networking.actions",
        &[
            "allow_dns_access",
            "create_ingress",
            "create_network_policy",
            "delete_ingress",
            "deny_all_egress",
            "deny_all_ingress",
            "remove_allow_dns_access",
            "remove_deny_all_egress",
            "remove_deny_all_ingress",
            "remove_network_policy",
            "update_ingress",
        ],
    ),
    ("chaosk8s.networking.probes", &["ingress_exists"]),
    (
        "chaosk8s.node.actions",
        &[
            "cordon_node",
            "create_node",
            "delete_nodes",
            "drain_nodes",
            "uncordon_node",
        ],
    ),
    (
        "chaosk8s.node.probes",
        &[
            "all_nodes_must_be_ready_to_schedule",
            "get_all_node_status_conditions",
            "get_nodes",
            "nodes_must_be_healthy",
            "verify_nodes_condition",
        ],
    ),
    ("chaosk8s.pod.actions", &["exec_in_pods", "terminate_pods"]),
    (
        "chaosk8s.pod.probes",
        &[
            "count_min_pods",
            "count_pods",
            "pod_is_not_available",
            "pods_in_conditions",
            "pods_in_phase",
            "pods_not_in_phase",
            "read_pod_logs",
            "should_be_found_in_logs",
        ],
    ),
    ("chaosk8s.replicaset.actions", &["delete_replica_set"]),
    (
        "chaosk8s.service.actions",
        &["create_service_endpoint", "delete_service"],
    ),
    ("chaosk8s.service.probes", &["service_is_initialized"]),
    (
        "chaosk8s.secret.actions",
        &["create_secret", "delete_secret"],
    ),
    ("chaosk8s.secret.probes", &["secret_exists"]),
    (
        "chaosk8s.statefulset.actions",
        &[
            "create_statefulset",
            "remove_statefulset",
            "scale_statefulset",
        ],
    ),
    (
        "chaosk8s.statefulset.probes",
        &[
            "statefulset_fully_available",
            "statefulset_not_fully_available",
        ],
    ),
    (
        "chaosk8s.crd.actions",
        &[
            "apply_from_json",
            "apply_from_yaml",
            "create_cluster_custom_object",
            "create_custom_object",
            "delete_cluster_custom_object",
            "delete_custom_object",
            "patch_cluster_custom_object",
            "patch_custom_object",
            "replace_cluster_custom_object",
            "replace_custom_object",
        ],
    ),
    (
        "chaosk8s.crd.probes",
        &[
            "get_cluster_custom_object",
            "get_custom_object",
            "list_cluster_custom_objects",
            "list_custom_objects",
        ],
    ),
    (
        "chaosk8s.chaosmesh.network.actions",
        &[
            "add_latency",
            "corrupt_packets",
            "delete_network_fault",
            "duplicate_packets",
            "reorder_packets",
            "set_bandwidth",
            "set_loss",
        ],
    ),
    (
        "chaosk8s.chaosmesh.stress.actions",
        &["delete_stressor", "stress_cpu", "stress_memory"],
    ),
    (
        "chaosk8s.chaosmesh.network.probes",
        &["get_network_fault", "get_network_faults"],
    ),
    (
        "chaosk8s.chaosmesh.stress.probes",
        &["get_stressor", "get_stressors"],
    ),
    ("chaosk8s.event.probes", &["get_events"]),
];

/// Functions of chaostoolkit-kubernetes 0.39 that experiments call although their
/// modules leave them out of `__all__` (so its discovery does not list them).
const UNLISTED: &[(&str, &[&str])] = &[
    ("chaosk8s.pod.probes", &["all_pods_healthy"]),
    ("chaosk8s.pod.actions", &["delete_pods"]),
];

/// How a chaosk8s function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runs {
    /// In this crate, on kube-rs.
    Native,
    /// In the Python extension, through chaos-runner's bridge.
    PythonBridge,
}

/// One function of chaostoolkit-kubernetes 0.39.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Exported {
    pub module: &'static str,
    pub name: &'static str,
    pub runs: Runs,
    /// Whether its discovery lists it (false for the few left out of `__all__`).
    pub listed: bool,
}

/// Every function of chaostoolkit-kubernetes 0.39 (the activities its discovery lists,
/// then the two it leaves out) with the way it runs.
pub fn exported() -> Vec<Exported> {
    let native = catalog::all();
    let listed = EXPORTED.iter().map(|entry| (entry, true));
    let unlisted = UNLISTED.iter().map(|entry| (entry, false));
    listed
        .chain(unlisted)
        .flat_map(|((module, names), listed)| {
            names.iter().map(move |name| (*module, *name, listed))
        })
        .map(|(module, name, listed)| {
            let is_native = native.iter().any(|f| f.module == module && f.name == name);
            Exported {
                module,
                name,
                runs: if is_native {
                    Runs::Native
                } else {
                    Runs::PythonBridge
                },
                listed,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The modules that still run on the Python bridge: chaosmesh needs Chaos Mesh.
    const STILL_BRIDGED: &[&str] = &["chaosk8s.chaosmesh."];

    fn bridged_by_design(module: &str) -> bool {
        STILL_BRIDGED
            .iter()
            .any(|prefix| module.starts_with(prefix))
    }

    #[test]
    fn every_exported_activity_outside_the_exceptions_is_native() {
        let all = exported();
        let listed = all.iter().filter(|e| e.listed).count();
        assert_eq!(
            listed, 103,
            "chaostoolkit-kubernetes 0.39 lists 103 activities"
        );
        assert_eq!(all.len(), 105, "and has two more functions");
        let not_native: Vec<String> = all
            .iter()
            .filter(|e| e.runs != Runs::Native && !bridged_by_design(e.module))
            .map(|e| format!("{}.{}", e.module, e.name))
            .collect();
        assert!(
            not_native.is_empty(),
            "still on the Python bridge: {not_native:?}"
        );
        let chaosmesh = all
            .iter()
            .filter(|e| e.module.starts_with("chaosk8s.chaosmesh."))
            .count();
        assert_eq!(chaosmesh, 14);
        assert_eq!(all.len() - chaosmesh, 91, "the functions outside chaosmesh");
        assert!(
            all.iter()
                .filter(|e| e.module.starts_with("chaosk8s.chaosmesh."))
                .all(|e| e.runs == Runs::PythonBridge)
        );
    }

    #[test]
    fn every_native_function_is_an_exported_one() {
        let all = exported();
        for f in catalog::all() {
            assert!(
                all.iter().any(|e| e.module == f.module && e.name == f.name),
                "{}.{} is not a function of chaostoolkit-kubernetes 0.39",
                f.module,
                f.name
            );
        }
    }

    #[test]
    fn runs_serialize_as_discover_shows_them() {
        assert_eq!(serde_json::to_value(Runs::Native).unwrap(), "native");
        assert_eq!(
            serde_json::to_value(Runs::PythonBridge).unwrap(),
            "python-bridge"
        );
    }
}
