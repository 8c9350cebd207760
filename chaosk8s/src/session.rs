//! A session with one cluster: the async runtime and the kube-rs client, made once and
//! reused by every call (a run's activities, or the lab's commands), instead of a new
//! runtime and client per call. A call runs its catalog entry's handler.

use std::future::Future;

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

    /// A client for the embedder's own requests (the lab's status and address reads).
    pub fn client(&self) -> kube::Client {
        self.cluster.client()
    }

    /// Runs the embedder's own async code (which uses [`Session::client`]) to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
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

/// Runs `work` on this thread, or, when this thread is inside an async runtime (an
/// embedder's async code), on a helper thread: a runtime cannot be started, blocked on or
/// dropped inside another's task. `None` when `work` panicked on the helper thread.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Some(work());
    }
    std::thread::scope(|scope| scope.spawn(work).join().ok())
}
