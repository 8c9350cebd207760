//! Providers: what actually runs when an activity runs.

pub mod http;
pub mod process;
pub mod python;
pub(crate) mod tls;

use crate::config::{Configuration, Secrets};
use crate::drivers::Registry;
use crate::interrupt::Cancel;
use crate::runtime::AsyncRuntime;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What providers share for a whole run: the one async runtime (created on first use)
/// and the HTTP clients built so far.
#[derive(Debug, Default)]
pub struct Io {
    pub runtime: AsyncRuntime,
    pub http: http::Clients,
}

/// Everything a provider needs besides the activity itself.
#[derive(Debug, Clone)]
pub struct ProviderContext<'a> {
    pub configuration: &'a Configuration,
    pub secrets: &'a Secrets,
    /// Environment variables from `.env` var files, added to processes' environment.
    pub env: &'a BTreeMap<String, String>,
    pub registry: &'a Registry,
    pub cancel: &'a Cancel,
    pub io: &'a Io,
}

/// Why a provider produced no output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// chaostoolkit's ActivityFailed: recorded as a failed run.
    #[error("{0}")]
    Failed(String),
    /// The run was interrupted (Ctrl-C / SIGTERM) while this activity ran.
    #[error("interrupted")]
    Interrupted,
}

/// Runs the activity's provider and returns its output.
pub fn run_provider(
    activity: &Map<String, Value>,
    ctx: &ProviderContext,
) -> Result<Value, ProviderError> {
    let provider = activity
        .get("provider")
        .and_then(Value::as_object)
        .ok_or_else(|| ProviderError::Failed("the activity has no provider".into()))?;
    let has_tolerance = activity.contains_key("tolerance");
    match provider.get("type").and_then(Value::as_str) {
        Some("http") => http::run(provider, has_tolerance, ctx),
        Some("process") => process::run(provider, has_tolerance, ctx),
        Some("python") => python::run(provider, ctx),
        other => Err(ProviderError::Failed(format!(
            "unknown provider type '{}'",
            other.unwrap_or("")
        ))),
    }
}

/// Substitutes only when there is something to substitute with, as the reference does.
fn substituted(value: &Value, ctx: &ProviderContext) -> Value {
    if ctx.configuration.is_empty() && ctx.secrets.is_empty() {
        value.clone()
    } else {
        crate::config::substitute(value, ctx.configuration, ctx.secrets)
    }
}
