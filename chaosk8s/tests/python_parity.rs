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
