//! Native Rust implementation of the chaostoolkit-kubernetes (`chaosk8s`) functions.
//!
//! The contract with `chaos-runner` (docs/contracts.md) is [`catalog`] and
//! [`Session::call`]: the runner looks a function up by its Python module and name,
//! passes the experiment's arguments (on a session made from its secrets, reused for the
//! run), and records the JSON value or the error. The lab calls typed entry points
//! ([`Session::kill_microservice`]) on the same kind of session, and reads and writes its
//! own objects through the session's typed requests ([`Session::deployment`], ...).
//!
//! Map of the crate (one chaosk8s module per Rust module):
//! - `catalog`: every function with a body, with its arguments, defaults and handler (the
//!   single source of names and defaults: a function's entry is all there is to add one),
//!   and the whole list, the deprecated aliases derived in `deprecated` included;
//! - `args`: typed access to an activity's arguments, and `str.format`-style selectors;
//! - `client`: cluster access the way chaosk8s's `create_k8s_api_client` does it;
//! - `session`: a runtime and a client made once, running the catalog entry's handler,
//!   and the embedder's typed, blocking requests (so the lab needs no kube-rs client);
//! - `pod`, `deployment`, `service`: `chaosk8s.<kind>.probes` / `.actions` (typed
//!   functions the handlers call; `chaosk8s.replicaset.actions` is `delete`'s entry);
//! - `statefulset`, `daemonset`, `secret`, `namespace`, `event`, `crd`: a group each,
//!   its functions and its own catalog entries;
//! - `readiness` (the fully/not fully available watch), `manifest` (spec files, and the
//!   `create_*` entry of any kind), `delete` (by name, selector or namespace, and the
//!   `delete_*` entry of any kind): shared by the groups;
//! - `exported`: every function of chaostoolkit-kubernetes 0.39 and which way it runs;
//! - `deprecated`: the deprecated `chaosk8s.probes` / `chaosk8s.actions`: one table of
//!   aliases, each derived from the function it calls, and `kill_microservice`;
//! - `error`: [`Error`] and how kube-rs errors map onto it.
//!
//! Behaviour follows chaostoolkit-kubernetes 0.39 (names, defaults, return values,
//! `ActivityFailed` messages); the few deliberate differences are listed in `deprecated`,
//! `crd` and ARCHITECTURE.md.

mod args;
mod catalog;
mod client;
mod crd;
mod daemonset;
mod delete;
mod deployment;
mod deprecated;
mod error;
mod event;
mod exported;
mod ingress;
mod manifest;
mod namespace;
mod network_policy;
mod node;
mod pod;
mod raw;
mod readiness;
mod secret;
mod service;
mod session;
mod statefulset;

use serde_json::{Map, Value};

pub use error::Error;
pub use exported::{Exported, Runs, exported};
pub use session::{Ensured, Session};

/// One argument of a driver function, as `chaos-runner discover` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArgSpec {
    pub name: &'static str,
    /// Portable type name, as chaostoolkit's discovery reports it (`string`, `integer`,
    /// `boolean`, `mapping`, `object`, ...).
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// `None` when the argument is required; `Some(Value::Null)` for a Python `None` default.
    pub default: Option<Value>,
}

/// One callable function: `module` is the dotted Python module name (`chaosk8s.probes`).
#[derive(Clone, serde::Serialize)]
pub struct FunctionSpec {
    pub module: &'static str,
    pub name: &'static str,
    /// `probe` or `action`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub doc: &'static str,
    pub arguments: Vec<ArgSpec>,
    /// What calling the function does, written in its catalog entry.
    #[serde(skip)]
    pub(crate) run: Run,
}

/// A function's body: reads its arguments (checked and defaulted against its own
/// catalog entry) and runs on the session's cluster.
pub(crate) type Run = for<'a> fn(
    &'a args::Args,
    &'a client::Cluster,
) -> futures::future::BoxFuture<'a, Result<Value, Error>>;

// By hand, to list the public fields only (the handler is a code address).
impl std::fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("module", &self.module)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("doc", &self.doc)
            .field("arguments", &self.arguments)
            .finish()
    }
}

/// Every function this crate implements.
pub fn catalog() -> Vec<FunctionSpec> {
    catalog::all()
}

/// Calls `module.func` with the experiment's arguments, configuration and secrets, on a
/// session of its own (one-off calls; a run or a command keeps a [`Session`] instead).
///
/// `configuration` is accepted for symmetry with other drivers; chaosk8s functions do not
/// read it (cluster access comes from the environment and `secrets`, as in chaosk8s).
pub fn call(
    module: &str,
    func: &str,
    arguments: &Map<String, Value>,
    configuration: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<Value, Error> {
    let process_env = |key: &str| std::env::var(key).ok();
    call_with_env(
        module,
        func,
        arguments,
        configuration,
        secrets,
        &process_env,
    )
}

/// Reads one environment variable; `None` when unset.
pub type Env<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// [`call`] with the environment given explicitly: `env` answers for `KUBECONFIG`,
/// `KUBERNETES_*`, `CHAOSTOOLKIT_IN_POD` and `HOME` instead of the process environment
/// (for embedders and tests that must not mutate the process-wide environment).
pub fn call_with_env(
    module: &str,
    func: &str,
    arguments: &Map<String, Value>,
    _configuration: &Map<String, Value>,
    secrets: &Map<String, Value>,
    env: &Env<'_>,
) -> Result<Value, Error> {
    check(module, func, arguments)?;
    // The whole one-off session, its drop included, stays off the caller's runtime.
    session::off_runtime(|| Session::connect(secrets, env)?.call(module, func, arguments))
        .unwrap_or_else(|| Err(Error::Client(format!("{module}.{func} panicked"))))
}

/// Whether `module.func` exists and `arguments` fit it, without any cluster access (so
/// these mistakes are reported as such even when the cluster is unreachable).
pub fn check(module: &str, func: &str, arguments: &Map<String, Value>) -> Result<(), Error> {
    let spec = catalog::find(module, func).ok_or_else(|| error::unknown(module, func))?;
    args::Args::new(&spec, arguments).map(drop)
}
