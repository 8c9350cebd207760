//! Native Rust implementation of the chaostoolkit-kubernetes (`chaosk8s`) functions.
//!
//! INTERFACE ONLY (work in progress): the signatures below are the contract with
//! `chaos-runner` (see docs/contracts.md); the bodies are being written.

use serde_json::{Map, Value};

/// One argument of a driver function, as `chaos-runner discover` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArgSpec {
    pub name: &'static str,
    /// Python-style type name, as chaostoolkit's discovery reports it (`str`, `int`, `dict`, ...).
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// `None` when the argument is required.
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

/// Why a call failed; the runner records `to_string()` as the activity's exception.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown function {module}.{func}")]
    UnknownFunction { module: String, func: String },
    #[error("invalid argument '{name}': {reason}")]
    InvalidArgument { name: String, reason: String },
    /// chaostoolkit's ActivityFailed: the probe or action ran and failed.
    #[error("{0}")]
    ActivityFailed(String),
    #[error("cannot reach the Kubernetes API: {0}")]
    Connection(String),
}

/// Every function this crate implements.
pub fn catalog() -> Vec<FunctionSpec> {
    Vec::new()
}

/// Calls `module.func` with the experiment's arguments, configuration and secrets.
/// Blocking: runs its own tokio runtime inside.
pub fn call(
    module: &str,
    func: &str,
    _arguments: &Map<String, Value>,
    _configuration: &Map<String, Value>,
    _secrets: &Map<String, Value>,
) -> Result<Value, Error> {
    Err(Error::UnknownFunction {
        module: module.to_string(),
        func: func.to_string(),
    })
}
