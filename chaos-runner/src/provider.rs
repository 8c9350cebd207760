//! An activity's provider as written: its kind, and its fields, which the engine reads
//! into the kind's spec ([`crate::engine::provider`]) after `${}` substitution, each
//! time it runs. [`crate::validate::provider`] holds the providers' rules.

use serde_json::{Map, Value};
use std::path::PathBuf;

/// The provider types chaos-runner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Http,
    Process,
    Python,
}

impl ProviderKind {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "http" => ProviderKind::Http,
            "process" => ProviderKind::Process,
            "python" => ProviderKind::Python,
            _ => return None,
        })
    }
}

/// An activity's provider, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// `Err`: the `type` as written (empty when absent), which no provider has.
    pub kind: Result<ProviderKind, String>,
    /// As written.
    pub fields: Map<String, Value>,
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
}

/// `shutil.which` after `~` expansion: the executable a `process` provider's `path`
/// names, if any (a path with a `/` as it is, else searched on `PATH`).
pub fn which(path: &str) -> Option<PathBuf> {
    which::which(expand_home(path)).ok()
}

fn expand_home(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return format!("{}/{}", home.to_string_lossy(), rest);
    }
    path.to_string()
}

/// A `python` provider's `arguments`: a mapping, or absent / `null` (no arguments);
/// `None` otherwise.
pub fn argument_map(arguments: Option<Value>) -> Option<Map<String, Value>> {
    match arguments {
        Some(Value::Object(m)) => Some(m),
        None | Some(Value::Null) => Some(Map::new()),
        Some(_) => None,
    }
}
