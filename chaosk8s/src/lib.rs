//! Native Rust implementation of the chaostoolkit-kubernetes (`chaosk8s`) functions.
//!
//! The contract with `chaos-runner` (docs/contracts.md) is [`catalog`] and [`call`]:
//! the runner looks a function up by its Python module and name, passes the experiment's
//! arguments, configuration and secrets, and records the JSON value or the error.
//!
//! Map of the crate (one chaosk8s module per Rust module):
//! - `catalog`: every function with its arguments and defaults (the single source of defaults);
//! - `args`: typed access to an activity's arguments, and `str.format`-style selectors;
//! - `client`: cluster access the way chaosk8s's `create_k8s_api_client` does it;
//! - `pod`, `deployment`, `service`, `replicaset`: `chaosk8s.<kind>.probes` / `.actions`;
//! - `legacy`: the deprecated `chaosk8s.probes` / `chaosk8s.actions`, which delegate;
//! - `error`: [`Error`] and how kube-rs errors map onto it.
//!
//! Behaviour follows chaostoolkit-kubernetes 0.39 (names, defaults, return values,
//! `ActivityFailed` messages); the few deliberate differences are listed in `legacy`.

mod args;
mod catalog;
mod client;
mod delete;
mod deployment;
mod error;
mod legacy;
mod pod;
mod replicaset;
mod service;

use serde_json::{Map, Value};

pub use error::Error;

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
#[derive(Debug, Clone, serde::Serialize)]
pub struct FunctionSpec {
    pub module: &'static str,
    pub name: &'static str,
    /// `probe` or `action`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub doc: &'static str,
    pub arguments: Vec<ArgSpec>,
}

/// Every function this crate implements.
pub fn catalog() -> Vec<FunctionSpec> {
    catalog::all()
}

/// Calls `module.func` with the experiment's arguments, configuration and secrets.
/// Blocking: runs its own tokio runtime inside.
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
    let spec = catalog::find(module, func).ok_or_else(|| Error::UnknownFunction {
        module: module.to_string(),
        func: func.to_string(),
    })?;
    let args = args::Args::new(&spec, arguments)?;
    if tokio::runtime::Handle::try_current().is_ok() {
        // Called from async code: block a helper thread rather than one of the caller's
        // runtime workers (nesting runtimes on one thread panics).
        std::thread::scope(|scope| {
            scope
                .spawn(|| run_blocking(&spec, &args, secrets, env))
                .join()
                .unwrap_or_else(|_| Err(Error::Client(format!("{module}.{func} panicked"))))
        })
    } else {
        run_blocking(&spec, &args, secrets, env)
    }
}

/// A kube-rs client configured exactly as the driver functions get theirs (kubeconfig from
/// `$KUBECONFIG` or `~/.kube/config`, else the `KUBERNETES_*` variables), with the same
/// connect and read timeouts; `context` picks a kubeconfig context instead of the current
/// one. For embedders (the `lab` CLI) that talk to the same cluster as the experiment.
pub async fn client_from_env(context: Option<&str>) -> Result<kube::Client, Error> {
    let mut secrets = Map::new();
    if let Some(context) = context {
        secrets.insert("KUBERNETES_CONTEXT".into(), Value::String(context.into()));
    }
    let env = |key: &str| std::env::var(key).ok();
    Ok(client::Cluster::connect(&secrets, &env).await?.client())
}

fn run_blocking(
    spec: &FunctionSpec,
    args: &args::Args,
    secrets: &Map<String, Value>,
    env: &Env<'_>,
) -> Result<Value, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Client(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(dispatch(spec, args, secrets, env))
}

async fn dispatch(
    spec: &FunctionSpec,
    args: &args::Args,
    secrets: &Map<String, Value>,
    env: &Env<'_>,
) -> Result<Value, Error> {
    let cluster = client::Cluster::connect(secrets, env).await?;
    let func = spec.name;
    match spec.module {
        catalog::PROBES | catalog::ACTIONS => legacy::call(func, args, &cluster).await,
        catalog::POD_PROBES | catalog::POD_ACTIONS => pod::call(func, args, &cluster).await,
        catalog::DEPLOYMENT_PROBES | catalog::DEPLOYMENT_ACTIONS => {
            deployment::call(func, args, &cluster).await
        }
        catalog::SERVICE_PROBES | catalog::SERVICE_ACTIONS => {
            service::call(func, args, &cluster).await
        }
        catalog::REPLICASET_ACTIONS => replicaset::call(func, args, &cluster).await,
        _ => Err(error::unknown(spec.module, func)),
    }
}
