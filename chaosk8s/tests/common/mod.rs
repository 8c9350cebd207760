//! chaosk8s's Kubernetes-tier tests (the tier gate is test_kit::tier): a namespace per test (created,
//! and deleted on drop) and small builders for the objects the functions act on.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The image of the pods the tests create. kwok runs no container, so any name does; on
/// the kind tier it is an image the node has (`CASCADE_TEST_POD_IMAGE`, set by
/// scripts/kind-test.sh), so the pods really run and serve.
pub fn pod_image() -> String {
    std::env::var("CASCADE_TEST_POD_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| "registry.invalid/app:1".into())
}

/// A copy of `tests/fixtures/manifests/NAME` in `dir`, its pods' image set to
/// [`pod_image`].
pub fn fixture_manifest(dir: &std::path::Path, name: &str) -> PathBuf {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/manifests")
        .join(name);
    let text = std::fs::read_to_string(&fixture).expect("read the fixture manifest");
    let path = dir.join(name);
    std::fs::write(&path, text.replace("registry.invalid/web:1", &pod_image()))
        .expect("write the manifest copy");
    path
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's namespace on the control plane, with a client for setting things up and
/// the environment chaosk8s is called with.
pub struct Lab {
    pub ns: String,
    pub kubeconfig: PathBuf,
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
}

impl Lab {
    /// Creates a fresh namespace named after the test.
    pub fn new(kubeconfig: PathBuf, test: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = rt.block_on(async {
            let kc = Kubeconfig::read_from(&kubeconfig).expect("read CASCADE_KUBECONFIG");
            let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .expect("kubeconfig usable");
            // Under `cargo test --workspace` rustls has both ring and aws-lc-rs compiled in
            // (feature unification), so pick one explicitly as the library does.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::try_from(config).expect("client")
        });
        let ns = format!(
            "ck8s-{}-{}-{}",
            test.replace('_', "-"),
            std::process::id() % 100_000,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        assert!(ns.len() <= 63, "namespace name too long: {ns}");
        let lab = Self {
            ns,
            kubeconfig,
            rt,
            client,
        };
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": lab.ns}})).unwrap();
        lab.rt
            .block_on(
                Api::<Namespace>::all(lab.client.clone())
                    .create(&PostParams::default(), &namespace),
            )
            .expect("create namespace");
        // The service account controller must create "default" before pods are admitted.
        lab.wait(
            "the default service account",
            Duration::from_secs(30),
            || {
                let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
                    Api::namespaced(lab.client.clone(), &lab.ns);
                lab.rt
                    .block_on(api.get_opt("default"))
                    .ok()
                    .flatten()
                    .is_some()
            },
        );
        lab
    }

    /// What chaosk8s sees as its environment: only the kubeconfig.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([(
            "KUBECONFIG".to_string(),
            self.kubeconfig.display().to_string(),
        )])
    }

    /// Calls a chaosk8s function with `arguments` plus `ns`.
    pub fn call(
        &self,
        module: &str,
        func: &str,
        arguments: Value,
    ) -> Result<Value, chaosk8s::Error> {
        let mut args: Map<String, Value> = arguments.as_object().cloned().unwrap_or_default();
        args.insert("ns".into(), json!(self.ns));
        let env = self.env();
        chaosk8s::call_with_env(module, func, &args, &Map::new(), &Map::new(), &|k| {
            env.get(k).cloned()
        })
    }

    pub fn create_deployment(&self, name: &str, replicas: i32, unschedulable: bool) {
        let mut spec = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"name": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"name": name}},
                "template": {
                    "metadata": {"labels": {"name": name}},
                    "spec": {"containers": [{"name": "app", "image": pod_image()}]}
                }
            }
        });
        if unschedulable {
            spec["spec"]["template"]["spec"]["nodeSelector"] =
                json!({"cascade-lab/no-such-node": "true"});
        }
        self.create::<Deployment>(&self.ns, spec);
    }

    /// Creates the `K` that `object` describes in `ns`.
    pub fn create<K>(&self, ns: &str, object: Value)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&Default::default()).into_owned();
        let typed: K =
            serde_json::from_value(object).unwrap_or_else(|e| panic!("not a {kind}: {e}"));
        let api: Api<K> = Api::namespaced(self.client.clone(), ns);
        self.rt
            .block_on(api.create(&PostParams::default(), &typed))
            .unwrap_or_else(|e| panic!("create the {kind}: {e}"));
    }

    pub fn create_pod(&self, name: &str, labels: Value, unschedulable: bool) {
        let mut spec = json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": pod_image()}]}
        });
        if unschedulable {
            spec["spec"]["nodeSelector"] = json!({"cascade-lab/no-such-node": "true"});
        }
        self.create::<Pod>(&self.ns, spec);
    }

    pub fn create_service(&self, name: &str, labels: Value) {
        self.create::<Service>(
            &self.ns,
            json!({
                "metadata": {"name": name, "labels": labels},
                "spec": {"selector": {"name": name}, "ports": [{"port": 80, "targetPort": 8080}]}
            }),
        );
    }

    pub fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    pub fn replica_sets(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }
    pub fn services(&self) -> Api<Service> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Pods matching `selector` (all when empty) that are not being deleted.
    pub fn live_pods(&self, selector: &str) -> Vec<Pod> {
        let params = if selector.is_empty() {
            ListParams::default()
        } else {
            ListParams::default().labels(selector)
        };
        self.rt
            .block_on(self.pods().list(&params))
            .expect("list pods")
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    pub fn running_pods(&self, selector: &str) -> usize {
        self.live_pods(selector)
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count()
    }

    pub fn pods_of(&self, selector: &str) -> usize {
        let params = ListParams::default().labels(selector);
        self.rt
            .block_on(self.pods().list(&params))
            .expect("list pods")
            .items
            .len()
    }

    pub fn replica_sets_of(&self, selector: &str) -> usize {
        let params = ListParams::default().labels(selector);
        self.rt
            .block_on(self.replica_sets().list(&params))
            .expect("list replica sets")
            .items
            .len()
    }

    pub fn deployment_exists(&self, name: &str) -> bool {
        self.rt
            .block_on(self.deployments().get_opt(name))
            .expect("get deployment")
            .is_some()
    }

    pub fn wait_running(&self, selector: &str, count: usize) {
        self.wait(
            &format!("{count} running pods '{selector}' (and no others)"),
            Duration::from_secs(60),
            || self.running_pods(selector) == count && self.live_pods(selector).len() == count,
        );
    }

    /// Polls `done` every 200 ms until it holds; panics naming `what` after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = self
            .rt
            .block_on(api.delete(&self.ns, &DeleteParams::background()));
    }
}
