//! Parity with the Python chaostoolkit-kubernetes: the same function, with the same
//! arguments, against the same objects, through Python (`python -c`, importing chaosk8s)
//! and through this crate; answers and failures must agree.
//!
//! Needs CASCADE_KUBECONFIG (the control plane) and CASCADE_CHAOS_K8S_PYTHON (a python with
//! chaostoolkit-kubernetes 0.39 installed). Read-only probes run both sides on one
//! namespace; actions run each side on its own identically prepared namespace and compare
//! the answers and the objects left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chaosk8s::Error;
use common::Lab;
use serde_json::{Value, json};

/// Calls chaosk8s in Python, one process for a list of `[module, func, args]` calls (the
/// imports take most of a call's time); prints one JSON line per call: `{"ok": result}` or
/// `{"error": type, "message": ..., "status": HTTP status of an ApiException}`.
const PY_CALL: &str = r#"
import importlib, json, logging, sys
from kubernetes.client.rest import ApiException
logging.disable(logging.CRITICAL)
for mod, func, args in json.loads(sys.argv[1]):
    try:
        out = {"ok": getattr(importlib.import_module(mod), func)(**args)}
    except Exception as e:
        kind = "ApiException" if isinstance(e, ApiException) else type(e).__name__
        out = {"error": kind, "message": str(e), "status": getattr(e, "status", None)}
    print(json.dumps(out), flush=True)
"#;

/// What both sides answered, in one shape.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(Value),
    /// ActivityFailed with its message.
    Failed(String),
    /// The API server refused the request with this status.
    Api(u16),
    /// Anything else (type and message).
    Other(String),
}

fn python_calls(python: &Path, kubeconfig: &Path, home: &Path, calls: &Value) -> Vec<Outcome> {
    let output = Command::new(python)
        .args(["-c", PY_CALL, &calls.to_string()])
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env_remove("KUBERNETES_CONTEXT")
        .output()
        .expect("run CASCADE_CHAOS_K8S_PYTHON");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcomes: Vec<Outcome> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|answer| outcome_of(&answer))
        .collect();
    assert_eq!(
        outcomes.len(),
        calls.as_array().map_or(0, Vec::len),
        "python answered {} of the calls {calls}; stderr:\n{}",
        outcomes.len(),
        String::from_utf8_lossy(&output.stderr)
    );
    outcomes
}

fn outcome_of(answer: &Value) -> Outcome {
    if let Some(ok) = answer.get("ok") {
        return Outcome::Ok(ok.clone());
    }
    let message = answer["message"].as_str().unwrap_or_default().to_string();
    match (answer["error"].as_str(), answer["status"].as_u64()) {
        (Some("ActivityFailed"), _) => Outcome::Failed(message),
        (Some("ApiException"), Some(status)) => Outcome::Api(status as u16),
        (kind, _) => Outcome::Other(format!("{}: {message}", kind.unwrap_or("?"))),
    }
}

fn rust_call(lab: &Lab, module: &str, func: &str, args: &Value) -> Outcome {
    match lab.call(module, func, args.clone()) {
        Ok(v) => Outcome::Ok(v),
        Err(Error::ActivityFailed(m)) => Outcome::Failed(m),
        Err(Error::Api { code, .. }) => Outcome::Api(code),
        Err(e) => Outcome::Other(e.to_string()),
    }
}

struct Parity {
    python: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Parity {
    fn new() -> Self {
        Self {
            python: test_kit::tier::chaos_k8s_python(),
            kubeconfig: test_kit::tier::kubeconfig(),
            home: tempfile::tempdir().expect("temp HOME"),
        }
    }

    fn python(&self, lab: &Lab, module: &str, func: &str, args: &Value) -> Outcome {
        self.python_batch(lab, &[(module, func, args.clone())])
            .remove(0)
    }

    /// Several calls in one Python process, each with `ns` set to the lab's namespace.
    fn python_batch(&self, lab: &Lab, calls: &[(&str, &str, Value)]) -> Vec<Outcome> {
        let calls: Vec<Value> = calls
            .iter()
            .map(|(module, func, args)| {
                let mut args = args.clone();
                args["ns"] = json!(lab.ns);
                json!([module, func, args])
            })
            .collect();
        python_calls(
            &self.python,
            &self.kubeconfig,
            self.home.path(),
            &json!(calls),
        )
    }
}

/// A namespace with a ready 2-replica deployment `web`, a deployment `stuck` that can never
/// be scheduled, a Pending pod `pending`, and a service `web-svc` labelled name=web-svc.
fn mixed_lab(kubeconfig: PathBuf, test: &str) -> Lab {
    let lab = Lab::new(kubeconfig, test);
    lab.create_deployment("web", 2, false);
    lab.create_deployment("stuck", 1, true);
    lab.create_pod("pending", json!({"name": "pending"}), true);
    lab.create_service("web-svc", json!({"name": "web-svc"}));
    lab.wait_running("name=web", 2);
    lab.wait("web to be available", Duration::from_secs(60), || {
        rust_call(
            &lab,
            "chaosk8s.deployment.probes",
            "deployment_available_and_healthy",
            &json!({"name": "web", "raise_on_unavailable": false}),
        ) == Outcome::Ok(json!(true))
    });
    lab
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_probes_agree_on_the_same_objects() {
    let parity = Parity::new();
    let lab = mixed_lab(parity.kubeconfig.clone(), "parity-probes");
    let p = "chaosk8s.probes";
    let pod = "chaosk8s.pod.probes";
    let dep = "chaosk8s.deployment.probes";
    let svc = "chaosk8s.service.probes";

    // Each call with what it must answer, so a shared mistake cannot pass either.
    let expectations: Vec<(&str, &str, Value, Outcome)> = vec![
        (
            p,
            "all_microservices_healthy",
            json!({}),
            Outcome::Failed("the system is unhealthy".into()),
        ),
        (
            pod,
            "all_pods_healthy",
            json!({"raise_on_any_unhealthy": false}),
            Outcome::Ok(json!(false)),
        ),
        (
            pod,
            "pods_in_phase",
            json!({"label_selector": "name=web"}),
            Outcome::Ok(json!(true)),
        ),
        (
            pod,
            "pods_in_phase",
            json!({"label_selector": "name=pending"}),
            Outcome::Failed(
                "pod 'name=pending' is in phase 'Pending' but should be 'Running'".into(),
            ),
        ),
        (
            pod,
            "pods_in_phase",
            json!({"label_selector": "name=none"}),
            Outcome::Failed("no pods 'name=none' were found".into()),
        ),
        (
            pod,
            "pods_not_in_phase",
            json!({"label_selector": "name=web"}),
            Outcome::Failed("pod 'name=web' should not be in phase 'Running'".into()),
        ),
        (
            pod,
            "pods_not_in_phase",
            json!({"label_selector": "name=pending", "raise_on_in_phase": false}),
            Outcome::Ok(json!(true)),
        ),
        (
            pod,
            "count_pods",
            json!({"label_selector": "name=web"}),
            Outcome::Ok(json!(2)),
        ),
        (
            pod,
            "count_pods",
            json!({"label_selector": "name in (web, pending, stuck)", "phase": "Pending"}),
            Outcome::Ok(json!(2)),
        ),
        (
            pod,
            "count_pods",
            json!({"label_selector": "bad selector ("}),
            Outcome::Api(400),
        ),
        (
            p,
            "microservice_is_not_available",
            json!({"name": "web"}),
            Outcome::Failed("pod 'web' is actually running".into()),
        ),
        (
            p,
            "microservice_is_not_available",
            json!({"name": "pending"}),
            Outcome::Ok(json!(true)),
        ),
        (
            pod,
            "pod_is_not_available",
            json!({"name": "web", "raise_on_is_available": false}),
            Outcome::Ok(json!(false)),
        ),
        (
            p,
            "microservice_available_and_healthy",
            json!({"name": "web"}),
            Outcome::Ok(Value::Null),
        ),
        (
            p,
            "microservice_available_and_healthy",
            json!({"name": "stuck"}),
            Outcome::Failed("Deployment 'stuck' is not healthy".into()),
        ),
        (
            dep,
            "deployment_available_and_healthy",
            json!({"name": "nope"}),
            Outcome::Failed("Deployment 'nope' was not found".into()),
        ),
        (
            p,
            "deployment_is_fully_available",
            json!({"name": "web", "timeout": 10}),
            Outcome::Ok(json!(true)),
        ),
        (
            p,
            "deployment_is_not_fully_available",
            json!({"name": "stuck", "timeout": 10}),
            Outcome::Ok(json!(true)),
        ),
        (
            dep,
            "deployment_fully_available",
            json!({"name": "stuck", "timeout": 2}),
            Outcome::Failed("deployment 'stuck' failed to recover within 2s".into()),
        ),
        (
            dep,
            "deployment_not_fully_available",
            json!({"name": "web", "timeout": 2, "raise_on_fully_available": false}),
            Outcome::Ok(json!(false)),
        ),
        (
            svc,
            "service_is_initialized",
            json!({"name": "web-svc"}),
            Outcome::Ok(json!(true)),
        ),
        (
            svc,
            "service_is_initialized",
            json!({"label_selector": "name=web-svc"}),
            Outcome::Ok(json!(true)),
        ),
        (
            svc,
            "service_is_initialized",
            json!({"name": "nope"}),
            Outcome::Failed("service 'nope' is not initialized".into()),
        ),
        (
            p,
            "read_microservices_logs",
            json!({"name": "none"}),
            Outcome::Ok(json!({})),
        ),
    ];
    let calls: Vec<_> = expectations
        .iter()
        .map(|(m, f, a, _)| (*m, *f, a.clone()))
        .collect();
    let python = parity.python_batch(&lab, &calls);
    for ((module, func, args, expected), py) in expectations.into_iter().zip(python) {
        let rs = rust_call(&lab, module, func, &args);
        assert_eq!(rs, py, "{module}.{func}({args}): Rust vs Python");
        assert_eq!(rs, expected, "{module}.{func}({args})");
    }

    // Logs: the same pods, each with text (kwok's log lines carry read-time timestamps,
    // so the texts themselves are not compared).
    let args = json!({"name": "web"});
    let (Outcome::Ok(py), Outcome::Ok(rs)) = (
        parity.python(&lab, p, "read_microservices_logs", &args),
        rust_call(&lab, p, "read_microservices_logs", &args),
    ) else {
        panic!("read_microservices_logs failed on one side")
    };
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("mapping").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&rs), keys(&py));
    assert_eq!(keys(&rs).len(), 2);
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_known_differences_are_still_there() {
    // See chaosk8s/src/legacy.rs: 0.39 sends the legacy default selector unformatted, so the
    // API server rejects it. We format it. If upstream behaviour changes, revisit.
    let parity = Parity::new();
    let lab = mixed_lab(parity.kubeconfig.clone(), "parity-known");
    let args = json!({"name": "web-svc"});
    assert_eq!(
        parity.python(
            &lab,
            "chaosk8s.probes",
            "service_endpoint_is_initialized",
            &args
        ),
        Outcome::Api(400)
    );
    assert_eq!(
        rust_call(
            &lab,
            "chaosk8s.probes",
            "service_endpoint_is_initialized",
            &args
        ),
        Outcome::Ok(json!(true))
    );
}

/// Two identically prepared namespaces: the first for Python, the second for Rust.
fn twin_labs(parity: &Parity, test: &str, prepare: impl Fn(&Lab)) -> (Lab, Lab) {
    let py = Lab::new(parity.kubeconfig.clone(), &format!("{test}-py"));
    let rs = Lab::new(parity.kubeconfig.clone(), &format!("{test}-rs"));
    prepare(&py);
    prepare(&rs);
    (py, rs)
}

fn both(parity: &Parity, labs: &(Lab, Lab), module: &str, func: &str, args: Value) -> Outcome {
    let py = parity.python(&labs.0, module, func, &args);
    let rs = rust_call(&labs.1, module, func, &args);
    assert_eq!(rs, py, "{module}.{func}({args}): Rust vs Python");
    rs
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_actions_agree_on_answers_and_end_state() {
    let parity = Parity::new();
    let labs = twin_labs(&parity, "parity-act", |lab| {
        lab.create_deployment("web", 1, false);
        lab.create_deployment("api", 1, false);
        for name in ["a-1", "a-2", "b-1"] {
            lab.create_pod(name, json!({"app": "t"}), false);
        }
        lab.create_service("web-svc", json!({}));
        lab.wait_running("name in (web, api)", 2);
        lab.wait_running("app=t", 3);
    });

    let out = both(
        &parity,
        &labs,
        "chaosk8s.actions",
        "scale_microservice",
        json!({"name": "web", "replicas": 3}),
    );
    assert_eq!(out, Outcome::Ok(Value::Null));
    for lab in [&labs.0, &labs.1] {
        lab.wait_running("name=web", 3);
    }
    let out = both(
        &parity,
        &labs,
        "chaosk8s.pod.actions",
        "terminate_pods",
        json!({"label_selector": "app=t", "qty": 2, "grace_period": 0}),
    );
    assert_eq!(out, Outcome::Ok(json!(["a-1", "a-2"])));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.pod.actions",
        "terminate_pods",
        json!({"mode": "half"}),
    );
    assert_eq!(
        out,
        Outcome::Failed("Cannot select pods. Mode 'half' is invalid.".into())
    );
    for lab in [&labs.0, &labs.1] {
        lab.wait("a-1, a-2 gone", Duration::from_secs(30), || {
            lab.live_pods("app=t").len() == 1
        });
    }
    let out = both(
        &parity,
        &labs,
        "chaosk8s.pod.actions",
        "delete_pods",
        json!({"name": "b-"}),
    );
    assert_eq!(out, Outcome::Ok(json!(["b-1"])));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.actions",
        "remove_service_endpoint",
        json!({"name": "web-svc"}),
    );
    assert_eq!(out, Outcome::Ok(Value::Null));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.service.actions",
        "delete_service",
        json!({"name": "web-svc"}),
    );
    assert_eq!(out, Outcome::Api(404));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.deployment.actions",
        "delete_deployment",
        json!({"name": "api"}),
    );
    assert_eq!(out, Outcome::Ok(Value::Null));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.replicaset.actions",
        "delete_replica_set",
        json!({"label_selector": "name=api"}),
    );
    assert_eq!(out, Outcome::Ok(Value::Null));
    for lab in [&labs.0, &labs.1] {
        assert!(!lab.deployment_exists("api"));
        lab.wait("api's replica sets to go", Duration::from_secs(30), || {
            lab.replica_sets_of("name=api") == 0
        });
    }

    // kill_microservice: 0.39 deletes the deployment and then fails on its unformatted pod
    // selector (400); we finish the job. The end state must be the same: no deployment,
    // replica set or pod of web left.
    let py = parity.python(
        &labs.0,
        "chaosk8s.actions",
        "kill_microservice",
        &json!({"name": "web"}),
    );
    assert_eq!(py, Outcome::Api(400), "chaosk8s 0.39's kill_microservice");
    let rs = rust_call(
        &labs.1,
        "chaosk8s.actions",
        "kill_microservice",
        &json!({"name": "web"}),
    );
    assert_eq!(rs, Outcome::Ok(Value::Null));
    for lab in [&labs.0, &labs.1] {
        assert!(!lab.deployment_exists("web"), "{}", lab.ns);
        lab.wait(
            "web's replica sets and pods to go",
            Duration::from_secs(60),
            || lab.replica_sets_of("name=web") == 0 && lab.pods_of("name=web") == 0,
        );
    }
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_create_deployment_agrees() {
    let parity = Parity::new();
    let labs = twin_labs(&parity, "parity-create", |_| {});
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
    let copies = tempfile::tempdir().expect("temp dir");
    let web = common::fixture_manifest(copies.path(), "web-deployment.yaml");
    let yaml = json!({"spec_path": web.display().to_string()});
    let out = both(
        &parity,
        &labs,
        "chaosk8s.actions",
        "start_microservice",
        yaml.clone(),
    );
    assert_eq!(out, Outcome::Ok(Value::Null));
    let out = both(
        &parity,
        &labs,
        "chaosk8s.deployment.actions",
        "create_deployment",
        yaml,
    );
    assert_eq!(out, Outcome::Api(409));
    let txt = json!({"spec_path": fixtures.join("README.txt").display().to_string()});
    let out = both(
        &parity,
        &labs,
        "chaosk8s.deployment.actions",
        "create_deployment",
        txt.clone(),
    );
    assert_eq!(
        out,
        Outcome::Failed(format!(
            "cannot process {}",
            txt["spec_path"].as_str().unwrap()
        ))
    );
    for lab in [&labs.0, &labs.1] {
        lab.wait_running("name=web", 2);
    }
    let out = both(
        &parity,
        &labs,
        "chaosk8s.deployment.probes",
        "deployment_fully_available",
        json!({"name": "web", "timeout": 30}),
    );
    assert_eq!(out, Outcome::Ok(json!(true)));
}

// ---------------------------------------------------------------------------------------
// The groups made native after the first ones: pod (conditions, minimum counts, log
// search, exec), deployment (partial availability, rollout), service creation,
// statefulset, daemonset, secret, namespace, event and crd.

/// Calls without the lab's `ns` (functions that take none, or take it in their arguments).
fn python_raw(parity: &Parity, calls: &[(&str, &str, Value)]) -> Vec<Outcome> {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(module, func, args)| json!([module, func, args]))
        .collect();
    python_calls(
        &parity.python,
        &parity.kubeconfig,
        parity.home.path(),
        &json!(calls),
    )
}

fn rust_raw(lab: &Lab, module: &str, func: &str, args: &Value) -> Outcome {
    let env = lab.env();
    let arguments = args.as_object().cloned().unwrap_or_default();
    let result = chaosk8s::call_with_env(
        module,
        func,
        &arguments,
        &serde_json::Map::new(),
        &serde_json::Map::new(),
        &|k| env.get(k).cloned(),
    );
    match result {
        Ok(v) => Outcome::Ok(v),
        Err(Error::ActivityFailed(m)) => Outcome::Failed(m),
        Err(Error::Api { code, .. }) => Outcome::Api(code),
        Err(e) => Outcome::Other(e.to_string()),
    }
}

/// Both sides' outcomes must agree and equal `expected`.
fn agree(lab: &Lab, py: Outcome, module: &str, func: &str, args: &Value, expected: &Outcome) {
    let rs = rust_call(lab, module, func, args);
    assert_eq!(rs, py, "{module}.{func}({args}): Rust vs Python");
    assert_eq!(&rs, expected, "{module}.{func}({args})");
}

/// An ActivityFailed whose message starts with `prefix` (the rest quotes the client's
/// exception text, which differs between the Python client and ours).
fn failed_with_prefix(outcome: &Outcome, prefix: &str) -> bool {
    matches!(outcome, Outcome::Failed(m) if m.starts_with(prefix))
}

const CRD_GROUP: &str = "parity.cascade-lab.test";

/// The custom resource definitions the crd functions act on: `widgets` (namespaced) and
/// `gadgets` (cluster-wide), made once per control plane.
fn ensure_crds(lab: &Lab) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(lab.client.clone());
    for (kind, plural, scope) in [
        ("Widget", "widgets", "Namespaced"),
        ("Gadget", "gadgets", "Cluster"),
    ] {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": format!("{plural}.{CRD_GROUP}")},
            "spec": {
                "group": CRD_GROUP,
                "scope": scope,
                "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                }]
            }
        }))
        .unwrap();
        match lab
            .rt
            .block_on(api.create(&kube::api::PostParams::default(), &crd))
        {
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => panic!("create CRD {plural}: {e}"),
        }
    }
    lab.wait("the CRDs to be served", Duration::from_secs(30), || {
        rust_call(
            lab,
            "chaosk8s.crd.probes",
            "list_custom_objects",
            &json!({"group": CRD_GROUP, "version": "v1", "plural": "widgets"}),
        )
        .ok_value()
        .is_some()
            && rust_raw(
                lab,
                "chaosk8s.crd.probes",
                "list_cluster_custom_objects",
                &json!({"group": CRD_GROUP, "version": "v1", "plural": "gadgets"}),
            )
            .ok_value()
            .is_some()
    });
}

impl Outcome {
    fn ok_value(&self) -> Option<&Value> {
        match self {
            Outcome::Ok(v) => Some(v),
            _ => None,
        }
    }
}

/// What of a custom object both sides must agree on (not its uid, times, versions or
/// field managers).
fn essence(object: &Value) -> Value {
    json!({
        "apiVersion": object["apiVersion"],
        "kind": object["kind"],
        "name": object["metadata"]["name"],
        "spec": object["spec"],
    })
}

fn create_daemon_set(lab: &Lab, name: &str) {
    lab.create::<k8s_openapi::api::apps::v1::DaemonSet>(
        &lab.ns,
        json!({
            "metadata": {"name": name, "labels": {"name": name}},
            "spec": {
                "selector": {"matchLabels": {"name": name}},
                "template": {
                    "metadata": {"labels": {"name": name}},
                    "spec": {"containers": [{"name": "app", "image": common::pod_image()}]}
                }
            }
        }),
    );
}

fn create_stateful_set(lab: &Lab, name: &str, replicas: i32) {
    lab.create::<k8s_openapi::api::apps::v1::StatefulSet>(
        &lab.ns,
        json!({
            "metadata": {"name": name, "labels": {"name": name}},
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": {"name": name}},
                "template": {
                    "metadata": {"labels": {"name": name}},
                    "spec": {"containers": [{"name": "app", "image": common::pod_image()}]}
                }
            }
        }),
    );
}

fn create_secret(lab: &Lab, name: &str, labels: Value) {
    lab.create::<k8s_openapi::api::core::v1::Secret>(
        &lab.ns,
        json!({"metadata": {"name": name, "labels": labels}, "stringData": {"k": "v"}}),
    );
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_new_group_probes_agree_on_the_same_objects() {
    let parity = Parity::new();
    let lab = mixed_lab(parity.kubeconfig.clone(), "parity-probes2");
    create_daemon_set(&lab, "ds");
    create_stateful_set(&lab, "db", 1);
    create_secret(&lab, "s1", json!({"app": "s"}));
    lab.wait_running("name in (ds, db)", 2);
    let pod = "chaosk8s.pod.probes";
    let dep = "chaosk8s.deployment.probes";
    let ds = "chaosk8s.daemonset.probes";
    let sts = "chaosk8s.statefulset.probes";
    let sec = "chaosk8s.secret.probes";
    let ready = json!([{"type": "Ready", "status": "True"}]);
    let expectations: Vec<(&str, &str, Value, Outcome)> = vec![
        (pod, "count_min_pods", json!({"label_selector": "name=web"}), Outcome::Ok(json!(true))),
        (
            pod,
            "count_min_pods",
            json!({"label_selector": "name=web", "min_count": 3}),
            Outcome::Ok(json!(false)),
        ),
        (
            pod,
            "count_min_pods",
            json!({"label_selector": "name in (pending, stuck)", "phase": "Pending"}),
            Outcome::Ok(json!(true)),
        ),
        (
            pod,
            "pods_in_conditions",
            json!({"label_selector": "name=web", "conditions": ready}),
            Outcome::Ok(json!(true)),
        ),
        (
            pod,
            "pods_in_conditions",
            json!({"label_selector": "name=pending", "conditions": ready}),
            Outcome::Failed(
                "pod pending does not match the following given condition: {'type': 'Ready', 'status': 'True'}".into(),
            ),
        ),
        (
            pod,
            "pods_in_conditions",
            json!({"label_selector": "name=pending", "conditions": ready, "raise_on_invalid_conditions": false}),
            Outcome::Ok(json!(false)),
        ),
        (
            pod,
            "pods_in_conditions",
            json!({"label_selector": "name=none", "conditions": ready}),
            Outcome::Failed("no pods 'name=none' were found".into()),
        ),
        (dep, "deployment_partially_available", json!({"name": "web"}), Outcome::Ok(json!(true))),
        (
            dep,
            "deployment_partially_available",
            json!({"name": "nope"}),
            Outcome::Failed("Deployment 'nope' was not found".into()),
        ),
        (
            dep,
            "deployment_partially_available",
            json!({"name": "nope", "raise_on_not_partially_available": false}),
            Outcome::Ok(json!(false)),
        ),
        (ds, "daemon_set_available_and_healthy", json!({"name": "ds"}), Outcome::Ok(json!(true))),
        (ds, "daemon_set_available_and_healthy", json!({"name": "nope"}), Outcome::Ok(json!(false))),
        (ds, "daemon_set_partially_available", json!({"name": "ds"}), Outcome::Ok(json!(true))),
        (
            ds,
            "daemon_set_partially_available",
            json!({"name": "ds", "label_selector": "name=other"}),
            Outcome::Ok(json!(false)),
        ),
        (ds, "daemon_set_fully_available", json!({"name": "ds", "timeout": 10}), Outcome::Ok(json!(true))),
        (ds, "daemon_set_not_fully_available", json!({"name": "ds", "timeout": 2}), Outcome::Ok(json!(false))),
        (sts, "statefulset_fully_available", json!({"name": "db", "timeout": 10}), Outcome::Ok(json!(true))),
        (
            sts,
            "statefulset_not_fully_available",
            json!({"name": "db", "timeout": 2}),
            Outcome::Failed("microservice 'db' failed to stop running within 2s".into()),
        ),
        (
            sts,
            "statefulset_not_fully_available",
            json!({"name": "db", "timeout": 2, "raise_on_fully_available": false}),
            Outcome::Ok(json!(false)),
        ),
        (sec, "secret_exists", json!({"name": "s1"}), Outcome::Ok(json!(true))),
        (sec, "secret_exists", json!({"label_selector": "app=s"}), Outcome::Ok(json!(true))),
        (sec, "secret_exists", json!({"name": "s1", "label_selector": "app=t"}), Outcome::Ok(json!(false))),
        (sec, "secret_exists", json!({"name": "nope"}), Outcome::Ok(json!(false))),
        ("chaosk8s.probes", "secret_exists", json!({"name": "s1"}), Outcome::Ok(json!(true))),
    ];
    let calls: Vec<_> = expectations
        .iter()
        .map(|(m, f, a, _)| (*m, *f, a.clone()))
        .collect();
    let python = parity.python_batch(&lab, &calls);
    for ((module, func, args, expected), py) in expectations.into_iter().zip(python) {
        agree(&lab, py, module, func, &args, &expected);
    }

    // Functions without `ns`: the log search (pure), namespaces, events.
    let logs = json!({"a": "hello world", "b": "bye"});
    let event_label = format!("cascade-parity={}", lab.ns);
    create_event(&lab, "ev-1", &lab.ns.clone());
    let raw: Vec<(&str, &str, Value, Option<Outcome>)> = vec![
        (
            pod,
            "should_be_found_in_logs",
            json!({"pattern": "hel+o", "value": logs}),
            Some(Outcome::Ok(json!(false))),
        ),
        (
            pod,
            "should_be_found_in_logs",
            json!({"pattern": "hel+o", "value": logs, "all_containers": false}),
            Some(Outcome::Ok(json!(true))),
        ),
        (
            pod,
            "should_be_found_in_logs",
            json!({"pattern": "[oy]e?", "value": logs}),
            Some(Outcome::Ok(json!(true))),
        ),
        (
            pod,
            "should_be_found_in_logs",
            json!({"pattern": "x", "value": {}}),
            Some(Outcome::Failed("no logs to search from".into())),
        ),
        (
            "chaosk8s.namespace.probes",
            "namespace_exists",
            json!({"name": lab.ns}),
            Some(Outcome::Ok(json!(true))),
        ),
        (
            "chaosk8s.namespace.probes",
            "namespace_exists",
            json!({"name": "no-such-namespace-here"}),
            Some(Outcome::Ok(json!(false))),
        ),
        (
            "chaosk8s.event.probes",
            "get_events",
            json!({"label_selector": event_label}),
            None,
        ),
        (
            "chaosk8s.event.probes",
            "get_events",
            json!({"field_selector": format!("metadata.namespace={}", lab.ns), "label_selector": event_label, "limit": 5}),
            None,
        ),
    ];
    let calls: Vec<_> = raw.iter().map(|(m, f, a, _)| (*m, *f, a.clone())).collect();
    let python = python_raw(&parity, &calls);
    for ((module, func, args, expected), py) in raw.into_iter().zip(python) {
        let rs = rust_raw(&lab, module, func, &args);
        match expected {
            Some(expected) => {
                assert_eq!(rs, py, "{module}.{func}({args}): Rust vs Python");
                assert_eq!(rs, expected, "{module}.{func}({args})");
            }
            None => {
                // An EventList: the same kind and the same events.
                let names = |o: &Outcome| {
                    let list = o.ok_value().unwrap_or_else(|| panic!("{func}: {o:?}"));
                    let items: Vec<Value> = list["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| e["metadata"]["name"].clone())
                        .collect();
                    (list["kind"].clone(), items)
                };
                assert_eq!(names(&rs), names(&py), "{func}({args})");
                assert_eq!(names(&rs), (json!("EventList"), vec![json!("ev-1")]));
            }
        }
    }

    // chaosk8s 0.39 compares `available_replicas >= 1` and fails with a TypeError when a
    // deployment has none; here it is an ActivityFailed.
    let args = json!({"name": "stuck"});
    let py = parity.python(&lab, dep, "deployment_partially_available", &args);
    assert!(
        matches!(&py, Outcome::Other(m) if m.starts_with("TypeError")),
        "{py:?}"
    );
    assert_eq!(
        rust_call(&lab, dep, "deployment_partially_available", &args),
        Outcome::Failed("Deployment 'stuck' is not healthy".into())
    );
}

fn create_event(lab: &Lab, name: &str, ns: &str) {
    lab.create::<k8s_openapi::api::events::v1::Event>(
        ns,
        json!({
            "metadata": {"name": name, "labels": {"cascade-parity": ns}},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "cascade-lab/parity",
            "reportingInstance": "parity-1",
            "action": "Test",
            "reason": "Parity",
            "type": "Normal",
            "regarding": {"kind": "Pod", "name": "pending", "namespace": ns}
        }),
    );
}

fn write_manifest(dir: &Path, file: &str, value: &Value) -> String {
    let path = dir.join(file);
    let text = if file.ends_with(".json") {
        value.to_string()
    } else {
        serde_saphyr::to_string(value).expect("YAML")
    };
    std::fs::write(&path, text).expect("write manifest");
    path.display().to_string()
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_new_group_actions_agree_on_answers_and_end_state() {
    let parity = Parity::new();
    let labs = twin_labs(&parity, "parity-act2", |lab| {
        lab.create_deployment("web", 1, false);
        lab.wait_running("name=web", 1);
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let image = common::pod_image();
    let svc = write_manifest(
        dir.path(),
        "svc.yaml",
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "made-svc"},
                "spec": {"selector": {"name": "web"}, "ports": [{"port": 80}]}}),
    );
    let secret = write_manifest(
        dir.path(),
        "secret.json",
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "made-secret"},
                "stringData": {"k": "v"}}),
    );
    let template = json!({"metadata": {"labels": {"name": "made"}},
                          "spec": {"containers": [{"name": "app", "image": image}]}});
    let sts = write_manifest(
        dir.path(),
        "sts.json",
        &json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "made-sts"},
                "spec": {"replicas": 1, "serviceName": "made", "selector": {"matchLabels": {"name": "made"}},
                         "template": template}}),
    );
    let ds = write_manifest(
        dir.path(),
        "ds.yml",
        &json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "made-ds"},
                "spec": {"selector": {"matchLabels": {"name": "made-ds"}},
                         "template": {"metadata": {"labels": {"name": "made-ds"}},
                                      "spec": {"containers": [{"name": "app", "image": image}]}}}}),
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
    let txt = fixtures.join("README.txt").display().to_string();
    let null = Outcome::Ok(Value::Null);
    let steps: Vec<(&str, &str, Value, Outcome)> = vec![
        (
            "chaosk8s.service.actions",
            "create_service_endpoint",
            json!({"spec_path": svc}),
            null.clone(),
        ),
        (
            "chaosk8s.service.actions",
            "create_service_endpoint",
            json!({"spec_path": svc}),
            Outcome::Api(409),
        ),
        (
            "chaosk8s.service.actions",
            "create_service_endpoint",
            json!({"spec_path": txt}),
            Outcome::Failed(format!("cannot process {txt}")),
        ),
        (
            "chaosk8s.secret.actions",
            "create_secret",
            json!({"spec_path": secret}),
            null.clone(),
        ),
        (
            "chaosk8s.secret.probes",
            "secret_exists",
            json!({"name": "made-secret"}),
            Outcome::Ok(json!(true)),
        ),
        (
            "chaosk8s.secret.actions",
            "delete_secret",
            json!({"name": "made-secret"}),
            null.clone(),
        ),
        (
            "chaosk8s.secret.actions",
            "delete_secret",
            json!({"name": "made-secret"}),
            Outcome::Api(404),
        ),
        (
            "chaosk8s.statefulset.actions",
            "create_statefulset",
            json!({"spec_path": sts}),
            null.clone(),
        ),
        (
            "chaosk8s.statefulset.actions",
            "scale_statefulset",
            json!({"name": "made-sts", "replicas": 2}),
            null.clone(),
        ),
        (
            "chaosk8s.daemonset.actions",
            "create_daemon_set",
            json!({"spec_path": ds}),
            null.clone(),
        ),
        (
            "chaosk8s.daemonset.actions",
            "update_daemon_set",
            json!({"name": "made-ds", "spec": {"metadata": {"labels": {"patched": "yes"}}}}),
            null.clone(),
        ),
        (
            "chaosk8s.deployment.actions",
            "rollout_deployment",
            json!({"name": "web"}),
            null.clone(),
        ),
    ];
    for (module, func, args, expected) in steps {
        let out = both(&parity, &labs, module, func, args.clone());
        assert_eq!(out, expected, "{module}.{func}({args})");
    }
    for lab in [&labs.0, &labs.1] {
        let sets: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
            kube::Api::namespaced(lab.client.clone(), &lab.ns);
        let set = lab.rt.block_on(sets.get("made-sts")).expect("stateful set");
        assert_eq!(set.spec.replicas, Some(2), "{}", lab.ns);
        let daemons: kube::Api<k8s_openapi::api::apps::v1::DaemonSet> =
            kube::Api::namespaced(lab.client.clone(), &lab.ns);
        let ds = lab.rt.block_on(daemons.get("made-ds")).expect("daemon set");
        assert_eq!(
            ds.metadata
                .labels
                .unwrap_or_default()
                .get("patched")
                .map(String::as_str),
            Some("yes")
        );
        let web = lab.rt.block_on(lab.deployments().get("web")).expect("web");
        let annotations = web
            .spec
            .template
            .metadata
            .unwrap_or_default()
            .annotations
            .unwrap_or_default();
        let restarted = annotations
            .get("kubectl.kubernetes.io/restartedAt")
            .expect("restartedAt");
        assert!(restarted.ends_with("+00:00Z"), "{restarted}");
    }
    // Failures quote the client's exception after a common prefix.
    for (module, func, args, prefix) in [
        (
            "chaosk8s.statefulset.actions",
            "scale_statefulset",
            json!({"name": "nope", "replicas": 1}),
            "failed to scale 'nope' to 1 replicas: (404)",
        ),
        (
            "chaosk8s.daemonset.actions",
            "update_daemon_set",
            json!({"name": "nope", "spec": {"metadata": {"labels": {"a": "b"}}}}),
            "failed to update daemon set 'nope': (404)",
        ),
        (
            "chaosk8s.deployment.actions",
            "rollout_deployment",
            json!({"name": "nope"}),
            "failed to rollout the deployment 'nope'! Error: (404)",
        ),
    ] {
        let py = parity.python(&labs.0, module, func, &args);
        let rs = rust_call(&labs.1, module, func, &args);
        assert!(failed_with_prefix(&py, prefix), "python {func}: {py:?}");
        assert!(failed_with_prefix(&rs, prefix), "rust {func}: {rs:?}");
    }
    for (module, func, args) in [
        (
            "chaosk8s.statefulset.actions",
            "remove_statefulset",
            json!({"name": "made-sts"}),
        ),
        (
            "chaosk8s.daemonset.actions",
            "delete_daemon_set",
            json!({"label_selector": "name=nothing"}),
        ),
        ("chaosk8s.daemonset.actions", "delete_daemon_set", json!({})),
    ] {
        assert_eq!(
            both(&parity, &labs, module, func, args),
            Outcome::Ok(Value::Null)
        );
    }
    for lab in [&labs.0, &labs.1] {
        let sets: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> =
            kube::Api::namespaced(lab.client.clone(), &lab.ns);
        let daemons: kube::Api<k8s_openapi::api::apps::v1::DaemonSet> =
            kube::Api::namespaced(lab.client.clone(), &lab.ns);
        lab.wait(
            "made-sts and made-ds to go",
            Duration::from_secs(30),
            || {
                lab.rt
                    .block_on(sets.get_opt("made-sts"))
                    .expect("get")
                    .is_none()
                    && lab
                        .rt
                        .block_on(daemons.get_opt("made-ds"))
                        .expect("get")
                        .is_none()
            },
        );
    }

    // Namespaces: each side its own.
    let (py_ns, rs_ns) = (format!("{}-made", labs.0.ns), format!("{}-made", labs.1.ns));
    let ns_steps = |name: &str| -> Vec<(&'static str, &'static str, Value)> {
        vec![
            (
                "chaosk8s.namespace.actions",
                "create_namespace",
                json!({"name": name}),
            ),
            (
                "chaosk8s.namespace.probes",
                "namespace_exists",
                json!({"name": name}),
            ),
            (
                "chaosk8s.namespace.actions",
                "create_namespace",
                json!({"name": name}),
            ),
            (
                "chaosk8s.namespace.actions",
                "create_namespace",
                json!({"spec_path": txt}),
            ),
            ("chaosk8s.namespace.actions", "create_namespace", json!({})),
            (
                "chaosk8s.namespace.actions",
                "delete_namespace",
                json!({"name": name}),
            ),
        ]
    };
    let py = python_raw(&parity, &ns_steps(&py_ns));
    let rs: Vec<Outcome> = ns_steps(&rs_ns)
        .iter()
        .map(|(m, f, a)| rust_raw(&labs.1, m, f, a))
        .collect();
    assert_eq!(rs, py, "namespace functions: Rust vs Python");
    assert_eq!(
        rs,
        vec![
            Outcome::Ok(Value::Null),
            Outcome::Ok(json!(true)),
            Outcome::Api(409),
            Outcome::Failed(format!("cannot process {txt}")),
            Outcome::Failed("You need to either specify name or spec_path".into()),
            Outcome::Ok(Value::Null),
        ]
    );
}

#[test]
#[ignore = "kubernetes tier: needs the control plane and Python chaosk8s; scripts/test.sh runs it"]
fn kubernetes_tier_crd_functions_agree() {
    let parity = Parity::new();
    let labs = twin_labs(&parity, "parity-crd", |_| {});
    ensure_crds(&labs.0);
    let actions = "chaosk8s.crd.actions";
    let probes = "chaosk8s.crd.probes";
    let gvp = |plural: &str| json!({"group": CRD_GROUP, "version": "v1", "plural": plural});
    let with = |base: Value, extra: Value| {
        let mut v = base;
        for (k, x) in extra.as_object().cloned().unwrap_or_default() {
            v[k] = x;
        }
        v
    };
    let widget = json!({"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Widget",
                        "metadata": {"name": "w1"}, "spec": {"size": 1}});
    let dir = tempfile::tempdir().expect("temp dir");
    let widget_file = write_manifest(
        dir.path(),
        "w2.yaml",
        &json!({"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Widget",
                "metadata": {"name": "w2"}, "spec": {"size": 2}}),
    );
    let w = gvp("widgets");
    // (function, arguments, how to compare): essence of an object, the whole value, or a
    // list's names.
    enum Compare {
        Object,
        Whole,
        Names,
        StatusOf,
    }
    let steps: Vec<(&str, &str, Value, Compare)> = vec![
        (
            actions,
            "create_custom_object",
            with(w.clone(), json!({"resource": widget})),
            Compare::Object,
        ),
        (
            actions,
            "create_custom_object",
            with(w.clone(), json!({"resource": widget})),
            Compare::StatusOf,
        ),
        (
            actions,
            "create_custom_object",
            with(w.clone(), json!({"resource_as_yaml_file": widget_file})),
            Compare::Object,
        ),
        (actions, "create_custom_object", w.clone(), Compare::Whole),
        (
            actions,
            "create_custom_object",
            with(
                w.clone(),
                json!({"resource_as_yaml_file": "/nonexistent.yaml"}),
            ),
            Compare::Whole,
        ),
        (
            actions,
            "patch_custom_object",
            with(
                w.clone(),
                json!({"name": "w1", "resource": [{"op": "replace", "path": "/spec/size", "value": 3}]}),
            ),
            Compare::Object,
        ),
        (
            actions,
            "patch_custom_object",
            with(
                w.clone(),
                json!({"name": "w1", "resource": {"spec": {"size": 4}}}),
            ),
            Compare::Whole,
        ),
        (
            probes,
            "get_custom_object",
            with(w.clone(), json!({"name": "w1"})),
            Compare::Object,
        ),
        (
            probes,
            "get_custom_object",
            with(w.clone(), json!({"name": "nope"})),
            Compare::Whole,
        ),
        (probes, "list_custom_objects", w.clone(), Compare::Names),
        (
            actions,
            "delete_custom_object",
            with(w.clone(), json!({"name": "w2"})),
            Compare::StatusOf,
        ),
        (
            actions,
            "delete_custom_object",
            with(w.clone(), json!({"name": "w2"})),
            Compare::Whole,
        ),
        (probes, "list_custom_objects", w.clone(), Compare::Names),
    ];
    let calls: Vec<_> = steps
        .iter()
        .map(|(m, f, a, _)| (*m, *f, a.clone()))
        .collect();
    let python = parity.python_batch(&labs.0, &calls);
    for ((module, func, args, compare), py) in steps.into_iter().zip(python) {
        let rs = rust_call(&labs.1, module, func, &args);
        let shown = format!("{module}.{func}({args}): Rust {rs:?} vs Python {py:?}");
        match compare {
            Compare::Whole => assert_eq!(rs, py, "{shown}"),
            Compare::Object => {
                let (Some(r), Some(p)) = (rs.ok_value(), py.ok_value()) else {
                    panic!("{shown}")
                };
                assert_eq!(essence(r), essence(p), "{shown}");
                assert_eq!(r["metadata"]["namespace"], json!(labs.1.ns));
            }
            Compare::StatusOf => {
                let (Some(r), Some(p)) = (rs.ok_value(), py.ok_value()) else {
                    panic!("{shown}")
                };
                for key in ["kind", "status", "reason", "code"] {
                    assert_eq!(r[key], p[key], "{key}: {shown}");
                }
            }
            Compare::Names => {
                let names = |v: &Value| -> Vec<Value> {
                    v["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| i["metadata"]["name"].clone())
                        .collect()
                };
                let (Some(r), Some(p)) = (rs.ok_value(), py.ok_value()) else {
                    panic!("{shown}")
                };
                assert_eq!(names(r), names(p), "{shown}");
            }
        }
    }

    // Cluster-wide objects: each side its own name.
    let g = gvp("gadgets");
    for (lab, name, python) in [(&labs.0, "g-py", true), (&labs.1, "g-rs", false)] {
        let gadget = json!({"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Gadget",
                            "metadata": {"name": format!("{name}-{}", lab.ns)}, "spec": {"on": true}});
        let full = format!("{name}-{}", lab.ns);
        let calls = vec![
            (
                actions,
                "create_cluster_custom_object",
                with(g.clone(), json!({"resource": gadget})),
            ),
            (
                actions,
                "patch_cluster_custom_object",
                with(
                    g.clone(),
                    json!({"name": full, "resource": [{"op": "add", "path": "/spec/on", "value": false}]}),
                ),
            ),
            (
                probes,
                "get_cluster_custom_object",
                with(g.clone(), json!({"name": full})),
            ),
            (probes, "list_cluster_custom_objects", g.clone()),
            (
                actions,
                "delete_cluster_custom_object",
                with(g.clone(), json!({"name": full})),
            ),
            (
                actions,
                "delete_cluster_custom_object",
                with(g.clone(), json!({"name": full})),
            ),
        ];
        let out: Vec<Outcome> = if python {
            python_raw(&parity, &calls)
        } else {
            calls
                .iter()
                .map(|(m, f, a)| rust_raw(lab, m, f, a))
                .collect()
        };
        let side = if python { "python" } else { "rust" };
        assert_eq!(
            out[0].ok_value().map(|v| v["spec"].clone()),
            Some(json!({"on": true})),
            "{side}: {out:?}"
        );
        assert_eq!(
            out[1].ok_value().map(|v| v["spec"].clone()),
            Some(json!({"on": false})),
            "{side}"
        );
        assert_eq!(
            out[2].ok_value().map(|v| v["metadata"]["name"].clone()),
            Some(json!(full)),
            "{side}"
        );
        let listed = out[3].ok_value().expect("list")["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            listed.iter().any(|i| i["metadata"]["name"] == json!(full)),
            "{side}"
        );
        assert_eq!(
            out[4].ok_value().map(|v| v["status"].clone()),
            Some(json!("Success")),
            "{side}"
        );
        assert!(
            failed_with_prefix(
                &out[5],
                "Failed to delete custom resource object: 'Not Found' {"
            ),
            "{side}: {:?}",
            out[5]
        );
    }

    // Known differences (chaosk8s/src/crd.rs): in 0.39 apply_from_json/yaml and the
    // replace functions always fail with a ValidationError; here they do their job.
    let text = json!({"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Widget",
                      "metadata": {"name": "applied", "namespace": labs.1.ns}, "spec": {"size": 5}})
    .to_string();
    let py = python_raw(
        &parity,
        &[(actions, "apply_from_json", json!({"resource": text}))],
    )
    .remove(0);
    assert!(
        matches!(&py, Outcome::Other(m) if m.starts_with("ValidationError")),
        "{py:?}"
    );
    let rs = rust_raw(
        &labs.1,
        actions,
        "apply_from_json",
        &json!({"resource": text}),
    );
    assert_eq!(
        rs.ok_value().map(|v| v["spec"]["size"].clone()),
        Some(json!(5)),
        "{rs:?}"
    );
    let yaml = format!(
        "apiVersion: {CRD_GROUP}/v1\nkind: Widget\nmetadata:\n  name: applied-yaml\n  namespace: {}\nspec:\n  size: 6\n",
        labs.1.ns
    );
    let rs = rust_raw(
        &labs.1,
        actions,
        "apply_from_yaml",
        &json!({"resource": yaml}),
    );
    assert_eq!(
        rs.ok_value().map(|v| v["metadata"]["name"].clone()),
        Some(json!("applied-yaml")),
        "{rs:?}"
    );
    // A replace names the version it replaces.
    let current = rust_call(
        &labs.1,
        probes,
        "get_custom_object",
        &with(w.clone(), json!({"name": "w1"})),
    );
    let version = current.ok_value().expect("w1")["metadata"]["resourceVersion"].clone();
    let replace = with(
        w.clone(),
        json!({"name": "w1", "resource": {"apiVersion": format!("{CRD_GROUP}/v1"), "kind": "Widget", "metadata": {"name": "w1", "resourceVersion": version}, "spec": {"size": 9}}}),
    );
    let py = parity.python(&labs.0, actions, "replace_custom_object", &replace);
    assert!(
        matches!(&py, Outcome::Other(m) if m.starts_with("ValidationError")),
        "{py:?}"
    );
    let rs = rust_call(&labs.1, actions, "replace_custom_object", &replace);
    assert_eq!(
        rs.ok_value().map(|v| v["spec"]["size"].clone()),
        Some(json!(9)),
        "{rs:?}"
    );
}

/// exec_in_pods and the logs need containers that run: the kind tier (scripts/kind-test.sh
/// runs it on its cluster, the pods' image CASCADE_TEST_POD_IMAGE being the provider's,
/// which has no shell: the commands run its binary).
#[test]
#[ignore = "kind tier: needs a kind cluster with running containers and Python chaosk8s; scripts/kind-test.sh runs it"]
fn kind_tier_exec_and_logs_agree_on_running_pods() {
    test_kit::tier::kind();
    let parity = Parity::new();
    let lab = Lab::new(parity.kubeconfig.clone(), "parity-exec");
    for name in ["x-1", "x-2"] {
        lab.create_pod(name, json!({"app": "x"}), false);
    }
    lab.wait_running("app=x", 2);
    let actions = "chaosk8s.pod.actions";
    let binary = "/usr/local/bin/provider-app";
    let calls: Vec<(&str, &str, Value)> = vec![
        (
            actions,
            "exec_in_pods",
            json!({"cmd": format!("{binary} --version"), "label_selector": "app=x", "all": true, "container_name": "app"}),
        ),
        (
            actions,
            "exec_in_pods",
            json!({"cmd": [binary, "--no-such-flag"], "label_selector": "app=x", "container_name": "app"}),
        ),
        (
            actions,
            "exec_in_pods",
            json!({"cmd": [binary, "--version"], "label_selector": "app=x"}),
        ),
        (
            actions,
            "exec_in_pods",
            json!({"cmd": "", "label_selector": "app=x"}),
        ),
        (
            actions,
            "exec_in_pods",
            json!({"cmd": "true", "mode": "most"}),
        ),
    ];
    let python = parity.python_batch(&lab, &calls);
    let mut answers = Vec::new();
    for ((module, func, args), py) in calls.into_iter().zip(python) {
        let rs = rust_call(&lab, module, func, &args);
        assert_eq!(rs, py, "{module}.{func}({args}): Rust vs Python");
        answers.push(rs);
    }
    let version = answers[0].ok_value().expect("exec answers").clone();
    let runs = version.as_array().expect("a list");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["pod_name"], "x-1");
    assert_eq!(runs[0]["exit_code"], 0);
    assert!(
        runs[0]["stdout"]
            .as_str()
            .unwrap_or_default()
            .starts_with("provider-app "),
        "{version}"
    );
    assert_eq!(runs[0]["stderr"], "");
    let bad = answers[1].ok_value().expect("exec answers")[0].clone();
    assert_eq!(bad["exit_code"], "2", "{bad}");
    assert!(
        bad["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("exit code 2"),
        "{bad}"
    );
    assert_eq!(
        answers[2],
        Outcome::Ok(json!([])),
        "no container_name: every pod skipped"
    );
    assert_eq!(
        answers[3],
        Outcome::Failed("A command must be set to run a container".into())
    );
    assert_eq!(
        answers[4],
        Outcome::Failed("Cannot select pods. Mode 'most' is invalid.".into())
    );

    // A program that does not exist: the API's failure status carries the runtime's
    // error as its cause, which chaosk8s answers as the "exit code" (and its message as
    // stderr).
    let missing =
        json!({"cmd": ["/no/such/program"], "label_selector": "app=x", "container_name": "app"});
    let py = parity.python(&lab, actions, "exec_in_pods", &missing);
    let rs = rust_call(&lab, actions, "exec_in_pods", &missing);
    // The same but for the runtime's exec id.
    let exec_id = regex::Regex::new("[0-9a-f]{64}").expect("regex");
    let anonymous = |o: &Outcome| exec_id.replace_all(&format!("{o:?}"), "<id>").into_owned();
    assert_eq!(
        anonymous(&rs),
        anonymous(&py),
        "exec_in_pods of a missing program: Rust vs Python"
    );
    let run = rs.ok_value().expect("exec answers")[0].clone();
    assert!(
        run["exit_code"]
            .as_str()
            .unwrap_or_default()
            .contains("no such file or directory"),
        "{run}"
    );

    // The logs of real containers, and the search chaosk8s runs on them as a tolerance.
    let pod_probes = "chaosk8s.pod.probes";
    let args = json!({"label_selector": "app=x"});
    let (Outcome::Ok(py_logs), Outcome::Ok(rs_logs)) = (
        parity.python(&lab, pod_probes, "read_pod_logs", &args),
        rust_call(&lab, pod_probes, "read_pod_logs", &args),
    ) else {
        panic!("read_pod_logs failed on one side")
    };
    assert_eq!(rs_logs, py_logs, "the same containers' logs");
    assert_eq!(rs_logs.as_object().map(|m| m.len()), Some(2));
    for (pattern, expected) in [("\\S", true), ("no such line ever", false)] {
        let search = json!({"pattern": pattern, "value": rs_logs});
        let py = python_raw(
            &parity,
            &[(pod_probes, "should_be_found_in_logs", search.clone())],
        )
        .remove(0);
        let rs = rust_raw(&lab, pod_probes, "should_be_found_in_logs", &search);
        assert_eq!(rs, py, "should_be_found_in_logs({pattern})");
        assert_eq!(
            rs,
            Outcome::Ok(json!(expected)),
            "should_be_found_in_logs({pattern})"
        );
    }
}
