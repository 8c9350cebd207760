//! Providers: what actually runs when an activity runs.

pub mod http;
mod kept;
pub mod process;
pub mod python;
pub(crate) mod tls;

use crate::config::{Configuration, Secrets};
use crate::drivers::Registry;
use crate::interrupt::Cancel;
use crate::runtime::AsyncRuntime;
use crate::validate::{Problems, pointer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What providers share for a whole run: the one async runtime (created on first use),
/// the HTTP clients built so far, and the environment variables activities exported.
#[derive(Debug, Default)]
pub struct Io {
    pub runtime: AsyncRuntime,
    pub http: http::Clients,
    pub exported: Exported,
}

/// Environment variables an activity sets for the rest of the run (chaostoolkit-toxiproxy's
/// `<proxy>_PORT`). The reference sets them in its own process environment, where later
/// process children and Python functions find them; chaos-runner keeps them here (its
/// own environment is never changed while threads run) and hands them to both.
#[derive(Debug, Default)]
pub struct Exported(Mutex<BTreeMap<String, String>>);

impl Exported {
    pub fn set(&self, name: impl Into<String>, value: impl Into<String>) {
        self.lock().insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    /// Every variable set so far.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
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
    /// Shared, so a native driver's call on a helper thread can use it.
    pub io: &'a Arc<Io>,
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

/// The provider types chaos-runner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Http,
    Process,
    Python,
}

impl ProviderKind {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "http" => ProviderKind::Http,
            "process" => ProviderKind::Process,
            "python" => ProviderKind::Python,
            _ => return None,
        })
    }
}

/// An activity's provider as written: its kind, and its fields, which are read into the
/// kind's spec ([`HttpSpec`](http::HttpSpec), [`ProcessSpec`](process::ProcessSpec),
/// [`PythonSpec`](python::PythonSpec)) after `${}` substitution, each time it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// `Err`: the `type` as written (empty when absent), which no provider has.
    pub kind: Result<ProviderKind, String>,
    fields: Map<String, Value>,
}

impl Provider {
    /// `None` when `value` is not a mapping.
    pub fn from_value(value: &Value) -> Option<Provider> {
        let fields = value.as_object()?.clone();
        let name = fields.get("type").and_then(Value::as_str).unwrap_or("");
        Some(Provider {
            kind: ProviderKind::from_name(name).ok_or_else(|| name.to_string()),
            fields,
        })
    }

    /// The rules of an activity's `provider` (`at` its JSON pointer), then its kind's.
    /// `name` and `kind` are the activity's, for messages.
    pub fn validate(
        provider: Option<&Value>,
        at: &str,
        name: &str,
        kind: Option<&str>,
        registry: &Registry,
        problems: &mut Problems,
    ) {
        let Some(provider) = provider.filter(|p| crate::pyvalue::py_truthy(p)) else {
            problems.add(at, "an activity requires a provider");
            return;
        };
        let Some(p) = provider.as_object() else {
            problems.add(at, "a provider must be a mapping");
            return;
        };
        match p.get("type").and_then(Value::as_str) {
            None | Some("") => problems.add(pointer(at, "type"), "a provider must have a type"),
            Some(t) => match ProviderKind::from_name(t) {
                Some(ProviderKind::Python) => {
                    python::PythonSpec::validate(p, at, name, kind, registry, problems)
                }
                Some(ProviderKind::Process) => {
                    process::ProcessSpec::validate(p, at, name, problems)
                }
                Some(ProviderKind::Http) => http::HttpSpec::validate(p, at, problems),
                None => problems.add(pointer(at, "type"), format!("unknown provider type '{t}'")),
            },
        }
    }

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
        crate::run::panic_message(panic)
    )
}

/// Substitutes only when there is something to substitute with, as the reference does.
fn substituted(value: &Value, ctx: &ProviderContext) -> Value {
    if ctx.configuration.is_empty() && ctx.secrets.is_empty() {
        value.clone()
    } else {
        crate::config::substitute(value, ctx.configuration, ctx.secrets)
    }
}
