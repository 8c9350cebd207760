//! Every function this crate implements, with its arguments, types and defaults as
//! chaostoolkit-kubernetes 0.39 declares them. `Args` fills defaults from here, so this is
//! the only place a default is written down.
//!
//! The injected `secrets` parameter of the Python functions is not listed: experiments never
//! pass it as an argument (chaostoolkit fills it from the experiment's `secrets`).

use serde_json::{Value, json};

use crate::{ArgSpec, FunctionSpec};

pub(crate) const PROBES: &str = "chaosk8s.probes";
pub(crate) const ACTIONS: &str = "chaosk8s.actions";
pub(crate) const POD_PROBES: &str = "chaosk8s.pod.probes";
pub(crate) const POD_ACTIONS: &str = "chaosk8s.pod.actions";
pub(crate) const DEPLOYMENT_PROBES: &str = "chaosk8s.deployment.probes";
pub(crate) const DEPLOYMENT_ACTIONS: &str = "chaosk8s.deployment.actions";
pub(crate) const SERVICE_PROBES: &str = "chaosk8s.service.probes";
pub(crate) const SERVICE_ACTIONS: &str = "chaosk8s.service.actions";
pub(crate) const REPLICASET_ACTIONS: &str = "chaosk8s.replicaset.actions";

/// The legacy default label selector; `{name}` is replaced by the `name` argument.
pub(crate) const NAME_SELECTOR: &str = "name in ({name})";

const STRING: &str = "string";
const INTEGER: &str = "integer";
const BOOLEAN: &str = "boolean";
const OBJECT: &str = "object";

fn required(name: &'static str, ty: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        default: None,
    }
}

fn optional(name: &'static str, ty: &'static str, default: Value) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        default: Some(default),
    }
}

fn ns() -> ArgSpec {
    optional("ns", STRING, json!("default"))
}

fn spec(
    module: &'static str,
    name: &'static str,
    doc: &'static str,
    arguments: Vec<ArgSpec>,
) -> FunctionSpec {
    let kind = if module.ends_with(".probes") {
        "probe"
    } else {
        "action"
    };
    FunctionSpec {
        module,
        name,
        kind,
        doc,
        arguments,
    }
}

fn log_arguments() -> Vec<ArgSpec> {
    vec![
        optional("name", STRING, Value::Null),
        optional("last", OBJECT, Value::Null),
        ns(),
        optional("from_previous", BOOLEAN, json!(false)),
        optional("label_selector", STRING, json!(NAME_SELECTOR)),
        optional("container_name", STRING, Value::Null),
    ]
}

fn readiness_arguments(raise_flag: Option<&'static str>) -> Vec<ArgSpec> {
    let mut args = vec![
        required("name", STRING),
        ns(),
        optional("label_selector", STRING, Value::Null),
        optional("timeout", INTEGER, json!(30)),
    ];
    if let Some(flag) = raise_flag {
        args.push(optional(flag, BOOLEAN, json!(true)));
    }
    args
}

fn phase_arguments(raise_flag: &'static str) -> Vec<ArgSpec> {
    vec![
        required("label_selector", STRING),
        optional("phase", STRING, json!("Running")),
        ns(),
        optional(raise_flag, BOOLEAN, json!(true)),
    ]
}

fn legacy() -> Vec<FunctionSpec> {
    vec![
        spec(
            PROBES,
            "all_microservices_healthy",
            "Deprecated alias of chaosk8s.pod.probes.all_pods_healthy: true when every pod of `ns` is Running or Succeeded, fails otherwise.",
            vec![ns()],
        ),
        spec(
            PROBES,
            "microservice_available_and_healthy",
            "Deprecated alias of chaosk8s.deployment.probes.deployment_available_and_healthy; answers null when healthy, fails otherwise.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, Value::Null),
            ],
        ),
        spec(
            PROBES,
            "microservice_is_not_available",
            "Deprecated alias of chaosk8s.pod.probes.pod_is_not_available: fails when a pod selected by `label_selector` (formatted with `name`) is Running.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, json!(NAME_SELECTOR)),
            ],
        ),
        spec(
            PROBES,
            "service_endpoint_is_initialized",
            "Deprecated alias of chaosk8s.service.probes.service_is_initialized: fails when no service named `name` matching `label_selector` (formatted with `name`) exists.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, json!(NAME_SELECTOR)),
            ],
        ),
        spec(
            PROBES,
            "deployment_is_fully_available",
            "Deprecated alias of chaosk8s.deployment.probes.deployment_fully_available: waits up to `timeout` seconds for all replicas to be ready.",
            readiness_arguments(None),
        ),
        spec(
            PROBES,
            "deployment_is_not_fully_available",
            "Deprecated alias of chaosk8s.deployment.probes.deployment_not_fully_available: waits up to `timeout` seconds for some replica not to be ready.",
            readiness_arguments(None),
        ),
        spec(
            PROBES,
            "read_microservices_logs",
            "Deprecated alias of chaosk8s.pod.probes.read_pod_logs: the logs of each selected pod, keyed by pod name.",
            log_arguments(),
        ),
        spec(
            ACTIONS,
            "kill_microservice",
            "Deletes the deployment `name`, then the replica sets and pods matching `label_selector` (formatted with `name`), pods without grace period.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, json!(NAME_SELECTOR)),
            ],
        ),
        spec(
            ACTIONS,
            "scale_microservice",
            "Deprecated alias of chaosk8s.deployment.actions.scale_deployment: sets the deployment's replicas.",
            vec![
                required("name", STRING),
                required("replicas", INTEGER),
                ns(),
            ],
        ),
        spec(
            ACTIONS,
            "start_microservice",
            "Deprecated alias of chaosk8s.deployment.actions.create_deployment: creates the deployment described in the JSON or YAML file `spec_path`.",
            vec![required("spec_path", STRING), ns()],
        ),
        spec(
            ACTIONS,
            "remove_service_endpoint",
            "Deprecated alias of chaosk8s.service.actions.delete_service: deletes the service `name`.",
            vec![required("name", STRING), ns()],
        ),
    ]
}

fn pods() -> Vec<FunctionSpec> {
    vec![
        spec(
            POD_PROBES,
            "all_pods_healthy",
            "True when every pod of `ns` is Running or Succeeded; otherwise fails, or answers false when `raise_on_any_unhealthy` is false.",
            vec![
                ns(),
                optional("raise_on_any_unhealthy", BOOLEAN, json!(true)),
            ],
        ),
        spec(
            POD_PROBES,
            "pods_in_phase",
            "True when pods match `label_selector` and all are in `phase`; otherwise fails, or answers false when `raise_on_invalid_phase` is false.",
            phase_arguments("raise_on_invalid_phase"),
        ),
        spec(
            POD_PROBES,
            "pods_not_in_phase",
            "True when pods match `label_selector` and none is in `phase`; otherwise fails, or answers false when `raise_on_in_phase` is false.",
            phase_arguments("raise_on_in_phase"),
        ),
        spec(
            POD_PROBES,
            "count_pods",
            "The number of pods matching `label_selector`, counting only those in `phase` when it is given.",
            vec![
                required("label_selector", STRING),
                optional("phase", STRING, Value::Null),
                ns(),
            ],
        ),
        spec(
            POD_PROBES,
            "pod_is_not_available",
            "True when no pod selected by `label_selector` (formatted with `name`) is Running; otherwise fails, or answers false when `raise_on_is_available` is false.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, json!(NAME_SELECTOR)),
                optional("raise_on_is_available", BOOLEAN, json!(true)),
            ],
        ),
        spec(
            POD_PROBES,
            "read_pod_logs",
            "The logs of each pod selected by `label_selector` (formatted with `name`), keyed by pod name; `last` limits them to a recent span such as \"10 minutes\".",
            log_arguments(),
        ),
        spec(
            POD_ACTIONS,
            "terminate_pods",
            "Deletes pods selected by label and/or name pattern (`qty` of them, a percentage with mode \"percentage\", or `all`); answers the deleted pod names.",
            vec![
                optional("label_selector", STRING, Value::Null),
                optional("name_pattern", STRING, Value::Null),
                optional("all", BOOLEAN, json!(false)),
                optional("rand", BOOLEAN, json!(false)),
                optional("mode", STRING, json!("fixed")),
                optional("qty", INTEGER, json!(1)),
                optional("grace_period", INTEGER, json!(-1)),
                ns(),
                optional("order", STRING, json!("alphabetic")),
            ],
        ),
        spec(
            POD_ACTIONS,
            "delete_pods",
            "Deprecated form of terminate_pods: deletes one pod whose name matches the pattern `name` and/or `label_selector`; answers the deleted pod names.",
            vec![
                optional("name", STRING, Value::Null),
                ns(),
                optional("label_selector", STRING, Value::Null),
            ],
        ),
    ]
}

fn deployments() -> Vec<FunctionSpec> {
    vec![
        spec(
            DEPLOYMENT_PROBES,
            "deployment_available_and_healthy",
            "True when the deployment `name` exists and all its replicas are available; otherwise fails, or answers false when `raise_on_unavailable` is false.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, Value::Null),
                optional("raise_on_unavailable", BOOLEAN, json!(true)),
            ],
        ),
        spec(
            DEPLOYMENT_PROBES,
            "deployment_fully_available",
            "Waits up to `timeout` seconds until all replicas of the deployment are ready; true then, otherwise fails (or false when `raise_on_not_fully_available` is false).",
            readiness_arguments(Some("raise_on_not_fully_available")),
        ),
        spec(
            DEPLOYMENT_PROBES,
            "deployment_not_fully_available",
            "Waits up to `timeout` seconds until some replica of the deployment is not ready; true then, otherwise fails (or false when `raise_on_fully_available` is false).",
            readiness_arguments(Some("raise_on_fully_available")),
        ),
        spec(
            DEPLOYMENT_ACTIONS,
            "create_deployment",
            "Creates the deployment described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
            vec![required("spec_path", STRING), ns()],
        ),
        spec(
            DEPLOYMENT_ACTIONS,
            "delete_deployment",
            "Deletes the deployment `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
            vec![
                optional("name", STRING, Value::Null),
                ns(),
                optional("label_selector", STRING, Value::Null),
            ],
        ),
        spec(
            DEPLOYMENT_ACTIONS,
            "scale_deployment",
            "Sets the replicas of the deployment `name`.",
            vec![
                required("name", STRING),
                required("replicas", INTEGER),
                ns(),
            ],
        ),
    ]
}

fn services_and_replica_sets() -> Vec<FunctionSpec> {
    vec![
        spec(
            SERVICE_PROBES,
            "service_is_initialized",
            "True when a service matching `name` and/or `label_selector` exists; otherwise fails, or answers false when `raise_if_service_not_initialized` is false.",
            vec![
                optional("name", STRING, Value::Null),
                ns(),
                optional("label_selector", STRING, Value::Null),
                optional("raise_if_service_not_initialized", BOOLEAN, json!(true)),
            ],
        ),
        spec(
            SERVICE_ACTIONS,
            "delete_service",
            "Deletes the service `name`.",
            vec![required("name", STRING), ns()],
        ),
        spec(
            REPLICASET_ACTIONS,
            "delete_replica_set",
            "Deletes the replica set `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
            vec![
                optional("name", STRING, Value::Null),
                ns(),
                optional("label_selector", STRING, Value::Null),
            ],
        ),
    ]
}

pub(crate) fn all() -> Vec<FunctionSpec> {
    let mut all = legacy();
    all.extend(pods());
    all.extend(deployments());
    all.extend(services_and_replica_sets());
    all
}

pub(crate) fn find(module: &str, func: &str) -> Option<FunctionSpec> {
    all()
        .into_iter()
        .find(|f| f.module == module && f.name == func)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Every function the issue requires, by module (plus read_pod_logs).
    const REQUIRED: &[(&str, &[&str])] = &[
        (
            PROBES,
            &[
                "all_microservices_healthy",
                "microservice_available_and_healthy",
                "microservice_is_not_available",
                "service_endpoint_is_initialized",
                "deployment_is_fully_available",
                "deployment_is_not_fully_available",
                "read_microservices_logs",
            ],
        ),
        (
            ACTIONS,
            &[
                "kill_microservice",
                "scale_microservice",
                "start_microservice",
                "remove_service_endpoint",
            ],
        ),
        (
            POD_PROBES,
            &[
                "all_pods_healthy",
                "pods_in_phase",
                "pods_not_in_phase",
                "count_pods",
                "pod_is_not_available",
                // not in the list, but what read_microservices_logs delegates to
                "read_pod_logs",
            ],
        ),
        (POD_ACTIONS, &["delete_pods", "terminate_pods"]),
        (
            DEPLOYMENT_PROBES,
            &[
                "deployment_available_and_healthy",
                "deployment_fully_available",
                "deployment_not_fully_available",
            ],
        ),
        (
            DEPLOYMENT_ACTIONS,
            &["create_deployment", "delete_deployment", "scale_deployment"],
        ),
        (SERVICE_PROBES, &["service_is_initialized"]),
        (SERVICE_ACTIONS, &["delete_service"]),
        (REPLICASET_ACTIONS, &["delete_replica_set"]),
    ];

    #[test]
    fn lists_every_required_function_once() {
        let all = all();
        let mut seen = HashSet::new();
        for f in &all {
            assert!(
                seen.insert((f.module, f.name)),
                "duplicate {}.{}",
                f.module,
                f.name
            );
        }
        for (module, names) in REQUIRED {
            for name in *names {
                assert!(find(module, name).is_some(), "missing {module}.{name}");
            }
        }
        let required: usize = REQUIRED.iter().map(|(_, n)| n.len()).sum();
        assert_eq!(all.len(), required);
    }

    #[test]
    fn kinds_follow_the_module() {
        for f in all() {
            let expected = if f.module.ends_with("probes") {
                "probe"
            } else {
                "action"
            };
            assert_eq!(f.kind, expected, "{}.{}", f.module, f.name);
        }
    }

    #[test]
    fn defaults_match_chaosk8s_0_39() {
        let kill = find(ACTIONS, "kill_microservice").unwrap();
        let args: Vec<_> = kill
            .arguments
            .iter()
            .map(|a| (a.name, a.default.clone()))
            .collect();
        assert_eq!(
            args,
            vec![
                ("name", None),
                ("ns", Some(json!("default"))),
                ("label_selector", Some(json!("name in ({name})"))),
            ]
        );
        let terminate = find(POD_ACTIONS, "terminate_pods").unwrap();
        let grace = terminate
            .arguments
            .iter()
            .find(|a| a.name == "grace_period")
            .unwrap();
        assert_eq!(grace.default, Some(json!(-1)));
        assert_eq!(grace.ty, "integer");
        let ready = find(DEPLOYMENT_PROBES, "deployment_fully_available").unwrap();
        let timeout = ready
            .arguments
            .iter()
            .find(|a| a.name == "timeout")
            .unwrap();
        assert_eq!(timeout.default, Some(json!(30)));
    }

    #[test]
    fn serializes_as_discovery_lists_it() {
        let f = find(PROBES, "all_microservices_healthy").unwrap();
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["type"], "probe");
        assert_eq!(
            v["arguments"][0],
            json!({"name": "ns", "type": "string", "default": "default"})
        );
    }

    #[test]
    fn unknown_names_are_not_found() {
        assert!(find(PROBES, "kill_microservice").is_none());
        assert!(find("chaosk8s.node.actions", "cordon_node").is_none());
    }
}
