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
    /// `Err`: the `type` as written when it is a string (empty otherwise), which no
    /// provider has.
    pub kind: Result<ProviderKind, String>,
    pub fields: Fields,
}

/// A provider's fields as written (every kind's: each reads its own, the rules look at
/// their shape, the run substitutes `${}` in them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    // Every kind.
    pub arguments: Option<Value>,
    pub timeout: Option<Value>,
    // `http`.
    pub url: Option<Value>,
    pub method: Option<Value>,
    pub headers: Option<Value>,
    pub verify_tls: Option<Value>,
    pub max_retries: Option<Value>,
    pub expected_status: Option<Value>,
    // `process`.
    pub path: Option<Value>,
    pub env: Option<Value>,
    // `python`.
    pub module: Option<Value>,
    pub func: Option<Value>,
    pub secrets: Option<Value>,
}

impl Provider {
    /// `None` when `value` is not a mapping.
    pub fn from_value(value: &Value) -> Option<Provider> {
        let p = value.as_object()?;
        let name = p.get("type").and_then(Value::as_str).unwrap_or("");
        let field = |key: &str| p.get(key).cloned();
        Some(Provider {
            kind: ProviderKind::from_name(name).ok_or_else(|| name.to_string()),
            fields: Fields {
                arguments: field("arguments"),
                timeout: field("timeout"),
                url: field("url"),
                method: field("method"),
                headers: field("headers"),
                verify_tls: field("verify_tls"),
                max_retries: field("max_retries"),
                expected_status: field("expected_status"),
                path: field("path"),
                env: field("env"),
                module: field("module"),
                func: field("func"),
                secrets: field("secrets"),
            },
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
