//! Every function this crate implements, with its arguments, types and defaults as
//! chaostoolkit-kubernetes 0.39 declares them, and its handler: what calling it does,
//! reading those arguments and calling the typed functions of `pod`, `deployment`,
//! `service` and `deprecated` (or `manifest`'s and `delete`'s entries, for any kind). `Args` fills defaults from here, so this is
//! the only place a default is written down. The aliases of the deprecated
//! `chaosk8s.probes`/`chaosk8s.actions` are derived from the entries they alias
//! (`deprecated::ALIASES`).
//!
//! The injected `secrets` parameter of the Python functions is not listed: experiments never
//! pass it as an argument (chaostoolkit fills it from the experiment's `secrets`).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Service;
use serde_json::{Map, Value, json};

use crate::deprecated::ALIASES;
use crate::pod::{self, Selection};
use crate::readiness::Readiness;
use crate::{ArgSpec, FunctionSpec, Run, delete, deployment, deprecated, manifest, service};

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

pub(crate) const STRING: &str = "string";
pub(crate) const INTEGER: &str = "integer";
pub(crate) const BOOLEAN: &str = "boolean";
pub(crate) const OBJECT: &str = "object";
pub(crate) const MAPPING: &str = "mapping";
pub(crate) const LIST: &str = "list";

pub(crate) fn required(name: &'static str, ty: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        default: None,
    }
}

pub(crate) fn optional(name: &'static str, ty: &'static str, default: Value) -> ArgSpec {
    ArgSpec {
        name,
        ty,
        default: Some(default),
    }
}

pub(crate) fn ns() -> ArgSpec {
    optional("ns", STRING, json!("default"))
}

/// An optional `name`, `ns`, an optional `label_selector`: how most functions pick
/// objects (by name, else by selector, else all of `ns`).
pub(crate) fn name_ns_selector() -> Vec<ArgSpec> {
    vec![
        optional("name", STRING, Value::Null),
        ns(),
        optional("label_selector", STRING, Value::Null),
    ]
}

/// One catalog entry: `run` reads the arguments by the names listed in `arguments`.
pub(crate) fn spec(
    module: &'static str,
    name: &'static str,
    doc: &'static str,
    arguments: Vec<ArgSpec>,
    run: Run,
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
        run,
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

pub(crate) fn readiness_arguments(raise_flag: Option<&'static str>) -> Vec<ArgSpec> {
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

/// `chaosk8s.actions.kill_microservice`, the one deprecated function with a body of its
/// own (in `deprecated`); the others are aliases derived there from their targets.
fn kill_microservice() -> FunctionSpec {
    spec(
        ACTIONS,
        "kill_microservice",
        "Deletes the deployment `name`, then the replica sets and pods matching `label_selector` (formatted with `name`), pods without grace period.",
        vec![
            required("name", STRING),
            ns(),
            optional("label_selector", STRING, json!(NAME_SELECTOR)),
        ],
        |args, cluster| {
            Box::pin(async move {
                deprecated::kill_microservice(
                    cluster,
                    &args.string("name")?,
                    &args.string("ns")?,
                    &args.string("label_selector")?,
                )
                .await
            })
        },
    )
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
            |args, cluster| {
                Box::pin(async move {
                    pod::all_pods_healthy(
                        cluster,
                        &args.string("ns")?,
                        args.boolean("raise_on_any_unhealthy")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_PROBES,
            "pods_in_phase",
            "True when pods match `label_selector` and all are in `phase`; otherwise fails, or answers false when `raise_on_invalid_phase` is false.",
            phase_arguments("raise_on_invalid_phase"),
            |args, cluster| {
                Box::pin(async move {
                    pod::pods_in_phase(
                        cluster,
                        &args.string("label_selector")?,
                        &args.string("phase")?,
                        &args.string("ns")?,
                        args.boolean("raise_on_invalid_phase")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_PROBES,
            "pods_not_in_phase",
            "True when pods match `label_selector` and none is in `phase`; otherwise fails, or answers false when `raise_on_in_phase` is false.",
            phase_arguments("raise_on_in_phase"),
            |args, cluster| {
                Box::pin(async move {
                    pod::pods_not_in_phase(
                        cluster,
                        &args.string("label_selector")?,
                        &args.string("phase")?,
                        &args.string("ns")?,
                        args.boolean("raise_on_in_phase")?,
                    )
                    .await
                })
            },
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
            |args, cluster| {
                Box::pin(async move {
                    pod::count_pods(
                        cluster,
                        &args.string("label_selector")?,
                        args.non_empty("phase")?.as_deref(),
                        &args.string("ns")?,
                    )
                    .await
                })
            },
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
            |args, cluster| {
                Box::pin(async move {
                    pod::pod_is_not_available(
                        cluster,
                        &args.string("name")?,
                        &args.string("ns")?,
                        &args.string("label_selector")?,
                        args.boolean("raise_on_is_available")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_PROBES,
            "read_pod_logs",
            "The logs of each pod selected by `label_selector` (formatted with `name`), keyed by pod name; `last` limits them to a recent span such as \"10 minutes\".",
            log_arguments(),
            |args, cluster| Box::pin(async move { pod::read_pod_logs(cluster, args).await }),
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
            |args, cluster| {
                Box::pin(async move {
                    let selection = Selection {
                        label_selector: args.non_empty("label_selector")?,
                        name_pattern: args.non_empty("name_pattern")?,
                        all: args.boolean("all")?,
                        rand: args.boolean("rand")?,
                        mode: args.string("mode")?,
                        qty: args.integer("qty")?,
                        order: args.string("order")?,
                    };
                    pod::terminate_pods(
                        cluster,
                        &selection,
                        args.integer("grace_period")?,
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_ACTIONS,
            "delete_pods",
            "Deprecated form of terminate_pods: deletes one pod whose name matches the pattern `name` and/or `label_selector`; answers the deleted pod names.",
            name_ns_selector(),
            |args, cluster| {
                Box::pin(async move {
                    let selection = Selection {
                        label_selector: args.non_empty("label_selector")?,
                        name_pattern: args.non_empty("name")?,
                        ..Selection::default()
                    };
                    pod::terminate_pods(cluster, &selection, -1, &args.string("ns")?).await
                })
            },
        ),
        spec(
            POD_PROBES,
            "count_min_pods",
            "True when at least `min_count` pods match `label_selector`, counting only those in `phase` when it is given.",
            vec![
                required("label_selector", STRING),
                optional("phase", STRING, json!("Running")),
                optional("min_count", INTEGER, json!(2)),
                ns(),
            ],
            |args, cluster| {
                Box::pin(async move {
                    pod::count_min_pods(
                        cluster,
                        &args.string("label_selector")?,
                        args.non_empty("phase")?.as_deref(),
                        args.integer("min_count")?,
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_PROBES,
            "pods_in_conditions",
            "True when pods match `label_selector` and each has every condition of `conditions` (a list of {\"type\", \"status\"} mappings); otherwise fails, or answers false when `raise_on_invalid_conditions` is false.",
            vec![
                required("label_selector", STRING),
                required("conditions", LIST),
                ns(),
                optional("raise_on_invalid_conditions", BOOLEAN, json!(true)),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let conditions: Vec<Map<String, Value>> =
                        args.parse("conditions", "a list of {\"type\", \"status\"} mappings")?;
                    pod::pods_in_conditions(
                        cluster,
                        &args.string("label_selector")?,
                        &conditions,
                        &args.string("ns")?,
                        args.boolean("raise_on_invalid_conditions")?,
                    )
                    .await
                })
            },
        ),
        spec(
            POD_PROBES,
            "should_be_found_in_logs",
            "A tolerance for read_pod_logs: true when the regular expression `pattern` is found in the logs of every container of `value` (or of one, when `all_containers` is false).",
            vec![
                required("pattern", STRING),
                optional("all_containers", BOOLEAN, json!(true)),
                optional("value", MAPPING, Value::Null),
            ],
            |args, _cluster| {
                Box::pin(async move {
                    let value: Option<Map<String, Value>> =
                        args.parse("value", "a mapping of container to logs")?;
                    pod::should_be_found_in_logs(
                        &args.string("pattern")?,
                        args.boolean("all_containers")?,
                        value.as_ref(),
                    )
                })
            },
        ),
        spec(
            POD_ACTIONS,
            "exec_in_pods",
            "Runs `cmd` (a command line or a list of arguments) in the container `container_name` of pods selected like terminate_pods', through the exec API; answers per pod its name, exit code, command, stdout and stderr.",
            vec![
                required("cmd", OBJECT),
                optional("label_selector", STRING, Value::Null),
                optional("name_pattern", STRING, Value::Null),
                optional("all", BOOLEAN, json!(false)),
                optional("rand", BOOLEAN, json!(false)),
                optional("mode", STRING, json!("fixed")),
                optional("qty", INTEGER, json!(1)),
                ns(),
                optional("order", STRING, json!("alphabetic")),
                optional("container_name", STRING, Value::Null),
                optional("request_timeout", INTEGER, json!(60)),
            ],
            |args, cluster| {
                Box::pin(async move {
                    let cmd: pod::Command =
                        args.parse("cmd", "a command line or a list of strings")?;
                    let Some(argv) = cmd.argv()? else {
                        return Err(crate::Error::ActivityFailed(
                            "A command must be set to run a container".into(),
                        ));
                    };
                    let seconds = args.seconds("request_timeout")?;
                    if seconds > pod::MAX_EXEC_SECONDS {
                        return Err(crate::error::invalid(
                            "request_timeout",
                            format!(
                                "must be at most {} seconds, got {seconds}",
                                pod::MAX_EXEC_SECONDS
                            ),
                        ));
                    }
                    let selection = Selection {
                        label_selector: args.non_empty("label_selector")?,
                        name_pattern: args.non_empty("name_pattern")?,
                        all: args.boolean("all")?,
                        rand: args.boolean("rand")?,
                        mode: args.string("mode")?,
                        qty: args.integer("qty")?,
                        order: args.string("order")?,
                    };
                    pod::exec_in_pods(
                        cluster,
                        &args.values()["cmd"],
                        &argv,
                        &selection,
                        &args.string("ns")?,
                        args.non_empty("container_name")?.as_deref(),
                        std::time::Duration::from_secs(seconds),
                    )
                    .await
                })
            },
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
            |args, cluster| {
                Box::pin(async move {
                    deployment::available_and_healthy(
                        cluster,
                        &args.string("name")?,
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                        args.boolean("raise_on_unavailable")?,
                    )
                    .await
                })
            },
        ),
        spec(
            DEPLOYMENT_PROBES,
            "deployment_fully_available",
            "Waits up to `timeout` seconds until all replicas of the deployment are ready; true then, otherwise fails (or false when `raise_on_not_fully_available` is false).",
            readiness_arguments(Some("raise_on_not_fully_available")),
            |args, cluster| {
                Box::pin(async move {
                    deployment::fully_available(
                        cluster,
                        &Readiness::from_args(args)?,
                        args.boolean("raise_on_not_fully_available")?,
                    )
                    .await
                })
            },
        ),
        spec(
            DEPLOYMENT_PROBES,
            "deployment_not_fully_available",
            "Waits up to `timeout` seconds until some replica of the deployment is not ready; true then, otherwise fails (or false when `raise_on_fully_available` is false).",
            readiness_arguments(Some("raise_on_fully_available")),
            |args, cluster| {
                Box::pin(async move {
                    deployment::not_fully_available(
                        cluster,
                        &Readiness::from_args(args)?,
                        args.boolean("raise_on_fully_available")?,
                    )
                    .await
                })
            },
        ),
        manifest::create_entry::<Deployment>(
            DEPLOYMENT_ACTIONS,
            "create_deployment",
            "Creates the deployment described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
        ),
        delete::delete_entry::<Deployment>(
            DEPLOYMENT_ACTIONS,
            "delete_deployment",
            "Deletes the deployment `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
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
            |args, cluster| {
                Box::pin(async move {
                    deployment::scale(
                        cluster,
                        &args.string("name")?,
                        args.integer("replicas")?,
                        &args.string("ns")?,
                    )
                    .await
                })
            },
        ),
        spec(
            DEPLOYMENT_PROBES,
            "deployment_partially_available",
            "True when the deployment `name` has at least one available replica; otherwise fails, or answers false when `raise_on_not_partially_available` is false.",
            vec![
                required("name", STRING),
                ns(),
                optional("label_selector", STRING, Value::Null),
                optional("raise_on_not_partially_available", BOOLEAN, json!(true)),
            ],
            |args, cluster| {
                Box::pin(async move {
                    deployment::partially_available(
                        cluster,
                        &args.string("name")?,
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                        args.boolean("raise_on_not_partially_available")?,
                    )
                    .await
                })
            },
        ),
        spec(
            DEPLOYMENT_ACTIONS,
            "rollout_deployment",
            "Restarts the pods of the deployment `name` as `kubectl rollout restart` does (a new restartedAt annotation on its pod template).",
            vec![optional("name", STRING, Value::Null), ns()],
            |args, cluster| {
                Box::pin(async move {
                    deployment::rollout(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
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
            |args, cluster| {
                Box::pin(async move {
                    service::is_initialized(
                        cluster,
                        args.non_empty("name")?.as_deref(),
                        &args.string("ns")?,
                        args.non_empty("label_selector")?.as_deref(),
                        args.boolean("raise_if_service_not_initialized")?,
                    )
                    .await
                })
            },
        ),
        manifest::create_entry::<Service>(
            SERVICE_ACTIONS,
            "create_service_endpoint",
            "Creates the service described in the JSON (.json) or YAML (.yml, .yaml) file `spec_path`.",
        ),
        spec(
            SERVICE_ACTIONS,
            "delete_service",
            "Deletes the service `name`.",
            vec![required("name", STRING), ns()],
            |args, cluster| {
                Box::pin(async move {
                    service::delete(cluster, &args.string("name")?, &args.string("ns")?).await
                })
            },
        ),
        delete::delete_entry::<ReplicaSet>(
            REPLICASET_ACTIONS,
            "delete_replica_set",
            "Deletes the replica set `name`, or those matching `label_selector`, or all of `ns` when neither is given.",
        ),
    ]
}

/// The functions with a body, those of the deprecated modules (aliases of these) first,
/// in chaosk8s's order.
pub(crate) fn all() -> Vec<FunctionSpec> {
    let mut bodies = vec![kill_microservice()];
    bodies.extend(pods());
    bodies.extend(deployments());
    bodies.extend(services_and_replica_sets());
    bodies.extend(crate::statefulset::catalog());
    bodies.extend(crate::daemonset::catalog());
    bodies.extend(crate::secret::catalog());
    bodies.extend(crate::namespace::catalog());
    bodies.extend(crate::event::catalog());
    bodies.extend(crate::crd::catalog());
    bodies.extend(crate::node::functions());
    bodies.extend(crate::network_policy::functions());
    bodies.extend(crate::ingress::functions());
    let mut all: Vec<FunctionSpec> = ALIASES
        .iter()
        .filter_map(|alias| {
            let (module, name) = alias.target;
            let target = bodies.iter().find(|f| f.module == module && f.name == name);
            target.map(|target| alias.entry(target))
        })
        .collect();
    // chaosk8s.actions lists kill_microservice before its aliases.
    let first_action = all
        .iter()
        .position(|f| f.module == ACTIONS)
        .unwrap_or(all.len());
    all.insert(first_action, bodies.remove(0));
    all.extend(bodies);
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
    use crate::Error;
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
        // The rest of the catalog is checked against chaostoolkit-kubernetes's exports
        // in `exported`.
        let required: usize = REQUIRED.iter().map(|(_, n)| n.len()).sum();
        assert!(all.len() > required);
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

    /// Each handler reads its arguments by the names and types its own entry declares:
    /// run on a cluster that refuses connections, with every argument at its default or a
    /// value of its declared type, none fails with an argument error (a handler asking for
    /// a name its entry lacks reads null, and fails as an invalid argument).
    /// Arguments chaosk8s declares with a None default that the function cannot do
    /// without (an invalid argument when left out), and a sample value for each.
    const NULL_BUT_NEEDED: &[(&str, &str, &str)] = &[
        ("rollout_deployment", "name", "x"),
        ("apply_from_json", "resource", "{}"),
        ("apply_from_yaml", "resource", "{}"),
    ];

    #[test]
    fn handlers_read_the_arguments_their_entry_declares() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        }; // closed again: connections are refused
        let home = tempfile::tempdir().unwrap();
        let env = |key: &str| match key {
            "HOME" => Some(home.path().display().to_string()),
            "KUBERNETES_HOST" => Some(format!("http://127.0.0.1:{port}")),
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let cluster = runtime
            .block_on(crate::client::Cluster::connect(&Map::new(), &env))
            .unwrap();
        for f in all() {
            let given = f
                .arguments
                .iter()
                .filter(|a| a.default.is_none())
                .map(|a| {
                    let value = match a.ty {
                        STRING => json!("x"),
                        INTEGER => json!(1),
                        LIST => json!([]),
                        MAPPING => json!({}),
                        OBJECT => json!("x"),
                        other => panic!("no sample value of type {other}"),
                    };
                    (a.name.to_string(), value)
                })
                .collect::<Map<_, _>>();
            // Declared optional (None) in chaosk8s, but the function cannot do without.
            let mut given = given;
            for (name, arg, value) in NULL_BUT_NEEDED {
                if f.name == *name {
                    given.insert(arg.to_string(), json!(value));
                }
            }
            let args = crate::args::Args::new(&f, &given).unwrap();
            let result = runtime.block_on((f.run)(&args, &cluster));
            assert!(
                !matches!(
                    result,
                    Err(Error::InvalidArgument { .. } | Error::UnknownFunction { .. })
                ),
                "{}.{}: {result:?}",
                f.module,
                f.name
            );
        }
    }

    #[test]
    fn unknown_names_are_not_found() {
        assert!(find(PROBES, "kill_microservice").is_none());
        assert!(find("chaosk8s.node.actions", "kill_node").is_none());
    }
}
