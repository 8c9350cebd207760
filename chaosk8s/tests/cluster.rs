//! Kubernetes tier: every chaosk8s function against real objects on the local control
//! plane (CASCADE_KUBECONFIG; pods run on a kwok-simulated node). Each test works in its
//! own namespace, so they run in parallel.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use chaosk8s::Error;
use common::Lab;
use serde_json::{Value, json};

const PROBES: &str = "chaosk8s.probes";
const ACTIONS: &str = "chaosk8s.actions";
const POD_PROBES: &str = "chaosk8s.pod.probes";
const POD_ACTIONS: &str = "chaosk8s.pod.actions";
const DEPLOYMENT_PROBES: &str = "chaosk8s.deployment.probes";
const DEPLOYMENT_ACTIONS: &str = "chaosk8s.deployment.actions";
const SERVICE_PROBES: &str = "chaosk8s.service.probes";
const SERVICE_ACTIONS: &str = "chaosk8s.service.actions";
const REPLICASET_ACTIONS: &str = "chaosk8s.replicaset.actions";

fn lab(test: &str) -> Lab {
    Lab::new(test_kit::tier::kubeconfig(), test)
}

fn activity_failed(result: Result<Value, Error>) -> String {
    match result {
        Err(Error::ActivityFailed(message)) => message,
        other => panic!("expected ActivityFailed, got {other:?}"),
    }
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_all_microservices_healthy_follows_pod_phases() {
    let lab = lab("healthy");
    lab.create_deployment("web", 2, false);
    lab.wait_running("name=web", 2);
    assert_eq!(
        lab.call(PROBES, "all_microservices_healthy", json!({}))
            .unwrap(),
        json!(true)
    );
    assert_eq!(
        lab.call(POD_PROBES, "all_pods_healthy", json!({})).unwrap(),
        json!(true)
    );

    // A pod that can never be scheduled stays Pending: the system is unhealthy.
    lab.create_pod("stuck", json!({"name": "stuck"}), true);
    assert_eq!(
        activity_failed(lab.call(PROBES, "all_microservices_healthy", json!({}))),
        "the system is unhealthy"
    );
    assert_eq!(
        lab.call(
            POD_PROBES,
            "all_pods_healthy",
            json!({"raise_on_any_unhealthy": false})
        )
        .unwrap(),
        json!(false)
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_kill_microservice_removes_deployment_replica_sets_and_pods() {
    let lab = lab("kill");
    lab.create_deployment("web", 2, false);
    lab.create_deployment("other", 1, false);
    lab.wait_running("name=web", 2);
    lab.wait_running("name=other", 1);
    assert_eq!(lab.replica_sets_of("name=web"), 1);

    assert_eq!(
        lab.call(ACTIONS, "kill_microservice", json!({"name": "web"}))
            .unwrap(),
        Value::Null
    );

    assert!(!lab.deployment_exists("web"));
    assert_eq!(lab.replica_sets_of("name=web"), 0);
    // Zero grace period: the pods are gone at once, not terminating.
    lab.wait("web's pods to be gone", Duration::from_secs(10), || {
        lab.pods_of("name=web") == 0
    });
    // Nothing else is touched.
    assert!(lab.deployment_exists("other"));
    assert_eq!(lab.running_pods("name=other"), 1);
    // And a second kill of what is gone is harmless, as in chaosk8s.
    assert_eq!(
        lab.call(ACTIONS, "kill_microservice", json!({"name": "web"}))
            .unwrap(),
        Value::Null
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_scale_microservice_changes_replicas_and_pods_follow() {
    let lab = lab("scale");
    lab.create_deployment("web", 1, false);
    lab.wait_running("name=web", 1);
    let result = lab.call(
        ACTIONS,
        "scale_microservice",
        json!({"name": "web", "replicas": 3}),
    );
    assert_eq!(result.unwrap(), Value::Null);
    lab.wait_running("name=web", 3);
    let result = lab.call(
        DEPLOYMENT_ACTIONS,
        "scale_deployment",
        json!({"name": "web", "replicas": 1}),
    );
    assert_eq!(result.unwrap(), Value::Null);
    lab.wait_running("name=web", 1);

    let message = activity_failed(lab.call(
        ACTIONS,
        "scale_microservice",
        json!({"name": "missing", "replicas": 2}),
    ));
    assert!(
        message.starts_with("failed to scale 'missing' to 2 replicas: (404) NotFound"),
        "{message}"
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_deployment_is_fully_available_waits_up_to_its_timeout() {
    let lab = lab("fully");
    // Never ready: its pods cannot be scheduled.
    lab.create_deployment("stuck", 1, true);
    let start = Instant::now();
    let message = activity_failed(lab.call(
        PROBES,
        "deployment_is_fully_available",
        json!({"name": "stuck", "timeout": 3}),
    ));
    let waited = start.elapsed();
    assert_eq!(message, "deployment 'stuck' failed to recover within 3s");
    assert!(
        waited >= Duration::from_millis(2900),
        "gave up early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(30), "overran: {waited:?}");
    let result = lab.call(
        DEPLOYMENT_PROBES,
        "deployment_fully_available",
        json!({"name": "stuck", "timeout": 1, "raise_on_not_fully_available": false}),
    );
    assert_eq!(result.unwrap(), json!(false));
    // ...and it is "not fully available" at once.
    let result = lab.call(
        PROBES,
        "deployment_is_not_fully_available",
        json!({"name": "stuck"}),
    );
    assert_eq!(result.unwrap(), json!(true));

    // Created just now, it becomes ready while the probe waits.
    lab.create_deployment("web", 2, false);
    let result = lab.call(
        PROBES,
        "deployment_is_fully_available",
        json!({"name": "web", "timeout": 60, "label_selector": "name in ({name})"}),
    );
    assert_eq!(result.unwrap(), json!(true));
    let message = activity_failed(lab.call(
        DEPLOYMENT_PROBES,
        "deployment_not_fully_available",
        json!({"name": "web", "timeout": 2}),
    ));
    assert_eq!(message, "deployment 'web' failed to stop running within 2s");
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_deployment_health_probes() {
    let lab = lab("dephealth");
    lab.create_deployment("web", 2, false);
    lab.create_deployment("stuck", 1, true);
    lab.wait_running("name=web", 2);
    lab.wait(
        "web to report 2 available replicas",
        Duration::from_secs(30),
        || {
            lab.call(
                DEPLOYMENT_PROBES,
                "deployment_available_and_healthy",
                json!({"name": "web", "raise_on_unavailable": false}),
            )
            .ok()
                == Some(json!(true))
        },
    );
    // The legacy wrapper answers nothing when healthy.
    let result = lab.call(
        PROBES,
        "microservice_available_and_healthy",
        json!({"name": "web"}),
    );
    assert_eq!(result.unwrap(), Value::Null);
    assert_eq!(
        activity_failed(lab.call(
            PROBES,
            "microservice_available_and_healthy",
            json!({"name": "stuck"})
        )),
        "Deployment 'stuck' is not healthy"
    );
    assert_eq!(
        activity_failed(lab.call(
            DEPLOYMENT_PROBES,
            "deployment_available_and_healthy",
            json!({"name": "nope"})
        )),
        "Deployment 'nope' was not found"
    );
    // A label selector that does not match hides the deployment.
    let result = lab.call(
        DEPLOYMENT_PROBES,
        "deployment_available_and_healthy",
        json!({"name": "web", "label_selector": "name=other", "raise_on_unavailable": false}),
    );
    assert_eq!(result.unwrap(), json!(false));
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_pod_phase_probes_and_counts() {
    let lab = lab("phases");
    lab.create_deployment("web", 2, false);
    lab.create_pod("stuck", json!({"name": "stuck"}), true);
    lab.wait_running("name=web", 2);

    let call = |func: &str, args: Value| lab.call(POD_PROBES, func, args);
    assert_eq!(
        call("pods_in_phase", json!({"label_selector": "name=web"})).unwrap(),
        json!(true)
    );
    assert_eq!(
        activity_failed(call(
            "pods_in_phase",
            json!({"label_selector": "name=stuck"})
        )),
        "pod 'name=stuck' is in phase 'Pending' but should be 'Running'"
    );
    assert_eq!(
        call(
            "pods_in_phase",
            json!({"label_selector": "name=stuck", "phase": "Pending"})
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        activity_failed(call(
            "pods_in_phase",
            json!({"label_selector": "name=none"})
        )),
        "no pods 'name=none' were found"
    );
    assert_eq!(
        call(
            "pods_in_phase",
            json!({"label_selector": "name=none", "raise_on_invalid_phase": false})
        )
        .unwrap(),
        json!(false)
    );
    assert_eq!(
        call("pods_not_in_phase", json!({"label_selector": "name=stuck"})).unwrap(),
        json!(true)
    );
    assert_eq!(
        activity_failed(call(
            "pods_not_in_phase",
            json!({"label_selector": "name=web"})
        )),
        "pod 'name=web' should not be in phase 'Running'"
    );
    assert_eq!(
        call("count_pods", json!({"label_selector": "name=web"})).unwrap(),
        json!(2)
    );
    assert_eq!(
        call(
            "count_pods",
            json!({"label_selector": "name in (web, stuck)", "phase": "Running"})
        )
        .unwrap(),
        json!(2)
    );
    assert_eq!(
        call("count_pods", json!({"label_selector": ""})).unwrap(),
        json!(3)
    );
    assert_eq!(
        call("count_pods", json!({"label_selector": "name=none"})).unwrap(),
        json!(0)
    );

    assert_eq!(
        activity_failed(lab.call(
            PROBES,
            "microservice_is_not_available",
            json!({"name": "web"})
        )),
        "pod 'web' is actually running"
    );
    assert_eq!(
        lab.call(
            PROBES,
            "microservice_is_not_available",
            json!({"name": "stuck"})
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        call(
            "pod_is_not_available",
            json!({"name": "web", "raise_on_is_available": false})
        )
        .unwrap(),
        json!(false)
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_terminate_and_delete_pods_select_like_chaosk8s() {
    let lab = lab("terminate");
    for name in ["a-1", "a-2", "a-3", "b-1"] {
        lab.create_pod(name, json!({"app": "t"}), false);
    }
    lab.wait_running("app=t", 4);
    let terminate = |args: Value| lab.call(POD_ACTIONS, "terminate_pods", args);

    // Default: the first pod (alphabetical), immediately with grace period 0.
    let result = terminate(json!({"label_selector": "app=t", "grace_period": 0})).unwrap();
    assert_eq!(result, json!(["a-1"]));
    lab.wait("a-1 to be gone", Duration::from_secs(10), || {
        lab.live_pods("app=t")
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some("a-1"))
    });
    // A name pattern and all of them.
    let result = terminate(json!({"name_pattern": "^a-", "all": true, "grace_period": 0})).unwrap();
    assert_eq!(result, json!(["a-2", "a-3"]));
    assert_eq!(
        activity_failed(terminate(json!({"mode": "some"}))),
        "Cannot select pods. Mode 'some' is invalid."
    );
    // The deprecated delete_pods: one pod matching the name pattern.
    lab.wait("a-2 and a-3 to go", Duration::from_secs(10), || {
        lab.live_pods("app=t").len() == 1
    });
    let result = lab
        .call(POD_ACTIONS, "delete_pods", json!({"name": "b-"}))
        .unwrap();
    assert_eq!(result, json!(["b-1"]));
    // Gone, not only terminating: chaosk8s (like the Python one) acts on terminating pods
    // too, and a real kubelet takes a moment to stop one.
    lab.wait("b-1 to be gone", Duration::from_secs(60), || {
        lab.rt
            .block_on(lab.pods().get_opt("b-1"))
            .is_ok_and(|pod| pod.is_none())
    });
    assert_eq!(
        lab.call(POD_ACTIONS, "delete_pods", json!({"name": "b-"}))
            .unwrap(),
        json!([])
    );
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_services_probe_and_delete() {
    let lab = lab("services");
    lab.create_service("web-svc", json!({"name": "web-svc"}));
    lab.create_service("plain", json!({}));
    let call = |module: &str, func: &str, args: Value| lab.call(module, func, args);

    assert_eq!(
        call(
            PROBES,
            "service_endpoint_is_initialized",
            json!({"name": "web-svc"})
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        call(
            SERVICE_PROBES,
            "service_is_initialized",
            json!({"name": "plain"})
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        call(
            SERVICE_PROBES,
            "service_is_initialized",
            json!({"label_selector": "name=web-svc"})
        )
        .unwrap(),
        json!(true)
    );
    assert_eq!(
        activity_failed(call(
            SERVICE_PROBES,
            "service_is_initialized",
            json!({"name": "nope"})
        )),
        "service 'nope' is not initialized"
    );

    assert_eq!(
        call(
            ACTIONS,
            "remove_service_endpoint",
            json!({"name": "web-svc"})
        )
        .unwrap(),
        Value::Null
    );
    assert_eq!(
        call(SERVICE_ACTIONS, "delete_service", json!({"name": "plain"})).unwrap(),
        Value::Null
    );
    assert_eq!(
        call(
            SERVICE_PROBES,
            "service_is_initialized",
            json!({"raise_if_service_not_initialized": false})
        )
        .unwrap(),
        json!(false)
    );
    match call(SERVICE_ACTIONS, "delete_service", json!({"name": "plain"})) {
        Err(Error::Api { code: 404, .. }) => {}
        other => panic!("expected a 404 for a missing service, got {other:?}"),
    }
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_create_and_delete_deployments_and_replica_sets() {
    let lab = lab("create");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("web.yaml");
    std::fs::File::create(&yaml)
        .unwrap()
        .write_all(
            r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {tier: front}
spec:
  replicas: 1
  selector:
    matchLabels: {name: web}
  template:
    metadata:
      labels: {name: web}
    spec:
      containers:
      - {name: app, image: POD_IMAGE}
"#
            .replace("POD_IMAGE", &common::pod_image())
            .as_bytes(),
        )
        .unwrap();
    let json_path = dir.path().join("api.json");
    let manifest = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "labels": {"tier": "back"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"name": "api"}},
                 "template": {"metadata": {"labels": {"name": "api"}},
                              "spec": {"containers": [{"name": "app", "image": common::pod_image()}]}}}
    });
    std::fs::write(&json_path, manifest.to_string()).unwrap();

    let path = |p: &std::path::Path| json!(p.display().to_string());
    assert_eq!(
        lab.call(
            ACTIONS,
            "start_microservice",
            json!({"spec_path": path(&yaml)})
        )
        .unwrap(),
        Value::Null
    );
    assert_eq!(
        lab.call(
            DEPLOYMENT_ACTIONS,
            "create_deployment",
            json!({"spec_path": path(&json_path)})
        )
        .unwrap(),
        Value::Null
    );
    lab.wait_running("name in (web, api)", 2);
    match lab.call(
        DEPLOYMENT_ACTIONS,
        "create_deployment",
        json!({"spec_path": path(&json_path)}),
    ) {
        Err(Error::Api { code: 409, .. }) => {}
        other => panic!("expected 409 AlreadyExists, got {other:?}"),
    }
    let txt = dir.path().join("web.txt");
    std::fs::write(&txt, "x").unwrap();
    assert_eq!(
        activity_failed(lab.call(
            DEPLOYMENT_ACTIONS,
            "create_deployment",
            json!({"spec_path": path(&txt)})
        )),
        format!("cannot process {}", txt.display())
    );

    // delete_replica_set by name: that object goes (the deployment, still there, makes a
    // new one, possibly with the same name, so compare uids).
    let original = lab
        .rt
        .block_on(
            lab.replica_sets()
                .list(&kube::api::ListParams::default().labels("name=api")),
        )
        .unwrap()
        .items
        .remove(0);
    let rs_name = original.metadata.name.clone().unwrap();
    let result = lab.call(
        REPLICASET_ACTIONS,
        "delete_replica_set",
        json!({"name": rs_name}),
    );
    assert_eq!(result.unwrap(), Value::Null);
    let now = lab
        .rt
        .block_on(lab.replica_sets().get_opt(&rs_name))
        .unwrap();
    assert!(
        now.is_none_or(|rs| rs.metadata.uid != original.metadata.uid),
        "replica set not deleted"
    );

    // delete_deployment by label selector only touches the matching one.
    let result = lab.call(
        DEPLOYMENT_ACTIONS,
        "delete_deployment",
        json!({"label_selector": "tier=front"}),
    );
    assert_eq!(result.unwrap(), Value::Null);
    assert!(!lab.deployment_exists("web"));
    assert!(lab.deployment_exists("api"));
    // With neither name nor selector: every deployment of the namespace.
    assert_eq!(
        lab.call(DEPLOYMENT_ACTIONS, "delete_deployment", json!({}))
            .unwrap(),
        Value::Null
    );
    assert!(!lab.deployment_exists("api"));
    lab.wait(
        "their replica sets to be collected",
        Duration::from_secs(30),
        || lab.replica_sets_of("name in (web, api)") == 0,
    );
    // delete_replica_set with neither name nor selector: every replica set of the namespace
    // (here one that no deployment owns, so nothing recreates it).
    let solo: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "solo", "labels": {"name": "solo"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"name": "solo"}},
                 "template": {"metadata": {"labels": {"name": "solo"}},
                              "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}}}
    }))
    .unwrap();
    lab.rt
        .block_on(lab.replica_sets().create(&Default::default(), &solo))
        .unwrap();
    assert_eq!(
        lab.call(REPLICASET_ACTIONS, "delete_replica_set", json!({}))
            .unwrap(),
        Value::Null
    );
    lab.wait("solo to be gone", Duration::from_secs(30), || {
        lab.replica_sets_of("name=solo") == 0
    });
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_read_microservices_logs_keys_logs_by_pod() {
    let lab = lab("logs");
    lab.create_deployment("web", 2, false);
    lab.wait_running("name=web", 2);
    let logs = lab
        .call(
            PROBES,
            "read_microservices_logs",
            json!({"name": "web", "last": "1 hour"}),
        )
        .unwrap();
    let logs = logs.as_object().expect("a mapping");
    let mut names: Vec<_> = lab
        .live_pods("name=web")
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    let mut keys: Vec<_> = logs.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, names);
    for text in logs.values() {
        assert!(text.as_str().is_some(), "log text is a string: {text}");
    }
    let none = lab
        .call(POD_PROBES, "read_pod_logs", json!({"name": "nothing"}))
        .unwrap();
    assert_eq!(none, json!({}));
}

#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_context_from_secrets_selects_the_cluster() {
    let lab = lab("context");
    // A context that does not exist in the kubeconfig is an error naming it.
    let env = lab.env();
    let mut secrets = serde_json::Map::new();
    secrets.insert("KUBERNETES_CONTEXT".into(), json!("no-such-context"));
    let args = json!({"ns": lab.ns}).as_object().cloned().unwrap();
    let err = chaosk8s::call_with_env(
        PROBES,
        "all_microservices_healthy",
        &args,
        &serde_json::Map::new(),
        &secrets,
        &|k| env.get(k).cloned(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("no-such-context"), "{err}");
}

/// The embedder's typed requests on a session (what the lab reads and writes): a
/// namespace made once, a Secret created and read back, a Deployment, Service, pods and
/// nodes read; what is missing reads `None`; a conflict is the API's error.
#[test]
#[ignore = "kubernetes tier: needs the local control plane; scripts/test.sh runs it"]
fn kubernetes_tier_session_reads_and_writes_the_embedders_objects() {
    use chaosk8s::{Ensured, Session};
    use k8s_openapi::api::core::v1::Secret;

    let lab = lab("session");
    let env = lab.env();
    let session = Session::connect(&serde_json::Map::new(), &|k| env.get(k).cloned()).unwrap();

    assert_eq!(session.ensure_namespace(&lab.ns).unwrap(), Ensured::Existed);
    let extra = format!("{}-x", lab.ns);
    assert_eq!(session.ensure_namespace(&extra).unwrap(), Ensured::Created);
    assert_eq!(session.ensure_namespace(&extra).unwrap(), Ensured::Existed);
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(lab.client.clone());
    lab.rt
        .block_on(namespaces.delete(&extra, &Default::default()))
        .expect("delete the extra namespace");

    assert!(session.secret(&lab.ns, "token").unwrap().is_none());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "token"}, "stringData": {"key": "v1"}
    }))
    .unwrap();
    session.create_secret(&lab.ns, &secret).unwrap();
    let read = session.secret(&lab.ns, "token").unwrap().expect("created");
    assert_eq!(read.data.unwrap()["key"].0, b"v1");
    let again = session.create_secret(&lab.ns, &secret).unwrap_err();
    assert!(matches!(again, Error::Api { code: 409, .. }), "{again}");

    assert!(session.deployment(&lab.ns, "web").unwrap().is_none());
    lab.create_deployment("web", 2, false);
    lab.wait_running("name=web", 2);
    let web = session
        .deployment(&lab.ns, "web")
        .unwrap()
        .expect("created");
    assert_eq!(web.spec.replicas, Some(2));
    assert_eq!(session.pods(&lab.ns, "name=web").unwrap().len(), 2);
    assert!(session.pods(&lab.ns, "name=none").unwrap().is_empty());

    assert!(session.service(&lab.ns, "front").unwrap().is_none());
    lab.create_service("front", json!({"name": "front"}));
    let front = session.service(&lab.ns, "front").unwrap().expect("created");
    assert_eq!(front.metadata.name.as_deref(), Some("front"));

    let nodes = session.nodes().unwrap();
    assert!(!nodes.is_empty(), "the control plane has a (kwok) node");
    let first = nodes[0].metadata.name.clone().unwrap();
    assert!(session.node(&first).unwrap().is_some());
    assert!(session.node("no-such-node").unwrap().is_none());
}
