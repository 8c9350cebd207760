//! A session with one cluster: the async runtime and the kube-rs client, made once and
//! reused by every call (a run's activities, or the lab's commands), instead of a new
//! runtime and client per call. A call runs its catalog entry's handler.
//!
//! An embedder (the lab) also reads and writes a few objects of its own through the
//! session: typed, blocking, one request each, errors as [`Error`]. So an embedder needs
//! no async code and no kube-rs client of its own.

use std::future::Future;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::{Map, Value};
use tokio::runtime::Runtime;

use crate::client::Cluster;
use crate::{Env, Error, args, catalog, error};

/// Cluster access plus the runtime that drives it. Blocking methods, callable from any
/// thread that is not itself inside an async runtime's task.
pub struct Session {
    // Declared before `runtime`: the client's background tasks go before their runtime.
    cluster: Cluster,
    runtime: Runtime,
}

impl Session {
    /// Connects the way the chaosk8s functions do: `KUBERNETES_CONTEXT` and the other
    /// cluster settings from `secrets`, the rest from `env` (`KUBECONFIG`,
    /// `KUBERNETES_*`, `CHAOSTOOLKIT_IN_POD`, `HOME`). Nothing is sent to the cluster yet.
    pub fn connect(secrets: &Map<String, Value>, env: &Env<'_>) -> Result<Session, Error> {
        // A multi-thread runtime (one worker) keeps the client's pooled connections
        // serviced between calls, and lets any thread block on it.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("chaosk8s")
            .enable_all()
            .build()
            .map_err(|e| Error::Client(format!("cannot start the async runtime: {e}")))?;
        let cluster = off_runtime(|| runtime.block_on(Cluster::connect(secrets, env)))
            .unwrap_or_else(|| Err(Error::Client("connecting to the cluster panicked".into())))?;
        Ok(Session { cluster, runtime })
    }

    /// [`Session::connect`] with the process environment; `context` picks a kubeconfig
    /// context instead of the current one.
    pub fn for_context(context: Option<&str>) -> Result<Session, Error> {
        let mut secrets = Map::new();
        if let Some(context) = context {
            secrets.insert("KUBERNETES_CONTEXT".into(), Value::String(context.into()));
        }
        Session::connect(&secrets, &|key: &str| std::env::var(key).ok())
    }

    /// Calls `module.func` with an activity's arguments (defaults filled from the catalog).
    pub fn call(
        &self,
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
    ) -> Result<Value, Error> {
        let spec = catalog::find(module, func).ok_or_else(|| error::unknown(module, func))?;
        let args = args::Args::new(&spec, arguments)?;
        off_runtime(|| self.runtime.block_on((spec.run)(&args, &self.cluster)))
            .unwrap_or_else(|| Err(Error::Client(format!("{module}.{func} panicked"))))
    }

    /// `chaosk8s.actions.kill_microservice`: deletes the Deployment `name` in `ns`, its
    /// replica sets and its pods (the tutorial's action, and what `lab kill` does).
    pub fn kill_microservice(&self, name: &str, ns: &str) -> Result<(), Error> {
        let mut arguments = Map::new();
        arguments.insert("name".into(), Value::String(name.into()));
        arguments.insert("ns".into(), Value::String(ns.into()));
        self.call(catalog::ACTIONS, "kill_microservice", &arguments)
            .map(drop)
    }
}

/// Whether [`Session::ensure_namespace`] found the namespace or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Existed,
    Created,
}

// The embedder's own objects (the lab's: its namespace, its Secret, what `lab status`,
// the rollout wait and the consumer's address read).
impl Session {
    /// Runs one request of the embedder's on the session's runtime.
    fn run<T: Send>(
        &self,
        request: impl Future<Output = Result<T, kube::Error>> + Send,
    ) -> Result<T, Error> {
        match off_runtime(|| self.runtime.block_on(request)) {
            Some(answer) => answer.map_err(|e| self.cluster.error(e)),
            None => Err(Error::Client("a request panicked".into())),
        }
    }

    /// Creates the namespace `name` unless it exists (one made meanwhile counts as existing).
    pub fn ensure_namespace(&self, name: &str) -> Result<Ensured, Error> {
        let api: Api<Namespace> = Api::all(self.cluster.client());
        if self.run(api.get_opt(name))?.is_some() {
            return Ok(Ensured::Existed);
        }
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        match self.run(api.create(&PostParams::default(), &object)) {
            Ok(_) => Ok(Ensured::Created),
            Err(Error::Api { code: 409, .. }) => Ok(Ensured::Existed),
            Err(err) => Err(err),
        }
    }

    /// The Secret `name` in `namespace`, if there is one.
    pub fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, Error> {
        let api: Api<Secret> = Api::namespaced(self.cluster.client(), namespace);
        self.run(api.get_opt(name))
    }

    /// Creates `secret` in `namespace`.
    pub fn create_secret(&self, namespace: &str, secret: &Secret) -> Result<(), Error> {
        let api: Api<Secret> = Api::namespaced(self.cluster.client(), namespace);
        self.run(api.create(&PostParams::default(), secret))
            .map(drop)
    }

    /// The Deployment `name` in `namespace`, if there is one.
    pub fn deployment(&self, namespace: &str, name: &str) -> Result<Option<Deployment>, Error> {
        let api: Api<Deployment> = Api::namespaced(self.cluster.client(), namespace);
        self.run(api.get_opt(name))
    }

    /// Replaces the Deployment `deployment` names in `namespace` with it (a PUT: its
    /// `resourceVersion` makes a change made meanwhile a 409 rather than lost).
    pub fn replace_deployment(
        &self,
        namespace: &str,
        deployment: &Deployment,
    ) -> Result<Deployment, Error> {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        let api: Api<Deployment> = Api::namespaced(self.cluster.client(), namespace);
        self.run(api.replace(&name, &PostParams::default(), deployment))
    }

    /// The Service `name` in `namespace`, if there is one.
    pub fn service(&self, namespace: &str, name: &str) -> Result<Option<Service>, Error> {
        let api: Api<Service> = Api::namespaced(self.cluster.client(), namespace);
        self.run(api.get_opt(name))
    }

    /// The pods of `namespace` that `label_selector` selects, in the API's order.
    pub fn pods(&self, namespace: &str, label_selector: &str) -> Result<Vec<Pod>, Error> {
        let api: Api<Pod> = Api::namespaced(self.cluster.client(), namespace);
        let params = ListParams::default().labels(label_selector);
        self.run(api.list(&params)).map(|list| list.items)
    }

    /// The node `name`, if there is one.
    pub fn node(&self, name: &str) -> Result<Option<Node>, Error> {
        let api: Api<Node> = Api::all(self.cluster.client());
        self.run(api.get_opt(name))
    }

    /// Every node, in the API's order (as kubectl lists them).
    pub fn nodes(&self) -> Result<Vec<Node>, Error> {
        let api: Api<Node> = Api::all(self.cluster.client());
        self.run(api.list(&ListParams::default()))
            .map(|list| list.items)
    }
}

/// Runs `work` on this thread, or, when this thread is inside an async runtime (an
/// embedder's async code), on a helper thread: a runtime cannot be started, blocked on or
/// dropped inside another's task. `None` when `work` panicked on the helper thread.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Some(work());
    }
    std::thread::scope(|scope| scope.spawn(work).join().ok())
}
