//! Running a provider: what actually runs when an activity runs. Each kind's module
//! reads its spec from the provider as written (after `${}` substitution) and runs it.

mod capped_output;
pub mod http;
pub mod process;
pub mod python;

use crate::activity::Activity;
use crate::config::{Configuration, Secrets};
use crate::drivers::Registry;
use crate::interrupt::Cancel;
use crate::provider::{Provider, ProviderKind};
use crate::run_io::RunIo;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything a provider needs besides the activity itself.
#[derive(Debug, Clone)]
pub struct ProviderContext<'a> {
    pub configuration: &'a Configuration,
    pub secrets: &'a Secrets,
    /// Environment variables from `.env` var files, added to processes' environment.
    pub env: &'a BTreeMap<String, String>,
    pub registry: &'a Registry,
    pub cancel: &'a Cancel,
    /// Shared, so a native driver's call on a helper thread can use it.
    pub io: &'a Arc<RunIo>,
}

/// Why a provider produced no output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// chaostoolkit's ActivityFailed: recorded as a failed run.
    #[error("{0}")]
    Failed(String),
    /// A Python function raised: ActivityFailed with the exception's text, and the
    /// traceback of the user's code that the journal keeps before it (as chaoslib's
    /// chained exception does).
    #[error("{message}")]
    Raised {
        message: String,
        traceback: Vec<String>,
    },
    /// The run was interrupted (Ctrl-C / SIGTERM) while this activity ran.
    #[error("interrupted")]
    Interrupted,
}

/// What a provider returned; the journal records it as [`Output::into_value`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `{"status", "headers", "body"}` (the body parsed when it is JSON).
    Http {
        status: u16,
        headers: Map<String, Value>,
        body: Value,
    },
    /// `{"status", "stdout", "stderr"}` (a negative status: killed by that signal).
    Process {
        status: i64,
        stdout: String,
        stderr: String,
    },
    /// Whatever the driver function returned.
    Python(Value),
}

impl Output {
    pub fn into_value(self) -> Value {
        match self {
            Output::Http {
                status,
                headers,
                body,
            } => serde_json::json!({"status": status, "headers": headers, "body": body}),
            Output::Process {
                status,
                stdout,
                stderr,
            } => serde_json::json!({"status": status, "stdout": stdout, "stderr": stderr}),
            Output::Python(v) => v,
        }
    }
}

impl Provider {
    /// Reads the spec (after substitution) and runs it. `has_tolerance`: the activity
    /// declares a tolerance (error statuses and exit codes are then not warned about).
    /// Runs the provider. A panic inside it (a native driver's bug, say) is the
    /// activity's failure, recorded in the journal like any other, not the run's end.
    pub fn run(&self, has_tolerance: bool, ctx: &ProviderContext) -> Result<Output, ProviderError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run_unguarded(has_tolerance, ctx)
        }))
        .unwrap_or_else(|panic| Err(ProviderError::Failed(unexpected(&panic))))
    }

    fn run_unguarded(
        &self,
        has_tolerance: bool,
        ctx: &ProviderContext,
    ) -> Result<Output, ProviderError> {
        let p = &self.fields;
        match &self.kind {
            Ok(ProviderKind::Http) => http::run(&http::HttpSpec::parse(p, ctx), has_tolerance, ctx),
            Ok(ProviderKind::Process) => {
                process::run(&process::ProcessSpec::parse(p, ctx), has_tolerance, ctx)
            }
            Ok(ProviderKind::Python) => python::run(&python::PythonSpec::parse(p, ctx), ctx),
            Err(other) => Err(ProviderError::Failed(format!(
                "unknown provider type '{other}'"
            ))),
        }
    }
}

/// What a panic said, as an activity's failure message.
pub(crate) fn unexpected(panic: &Box<dyn std::any::Any + Send>) -> String {
    format!(
        "the provider failed unexpectedly (a bug in chaos-runner or its driver): {}",
        crate::panic::message(panic)
    )
}

/// Substitutes only when there is something to substitute with, as the reference does.
pub(crate) fn substituted(value: &Value, ctx: &ProviderContext) -> Value {
    if ctx.configuration.is_empty() && ctx.secrets.is_empty() {
        value.clone()
    } else {
        crate::config::substitute(value, ctx.configuration, ctx.secrets)
    }
}

impl Activity {
    /// Runs the provider and returns its output.
    pub fn run_provider(&self, ctx: &ProviderContext) -> Result<Output, ProviderError> {
        match &self.provider {
            Some(provider) => provider.run(self.tolerance.is_some(), ctx),
            None => Err(ProviderError::Failed("the activity has no provider".into())),
        }
    }
}
