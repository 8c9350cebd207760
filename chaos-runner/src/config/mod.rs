//! Configuration, secrets and variables, and `${name}` substitution.
//!
//! Follows chaostoolkit-lib: configuration values are static or read from the
//! environment (`{"type": "env", "key": ..., "default": ...}`); secrets are grouped in
//! scopes; `--var` and `--var-file` values override declared configuration keys; strings
//! in activities get `$name` / `${name}` replaced with the first match in the
//! configuration, then in each secret scope (Python `string.Template` rules).

mod load;
mod template;
mod vars;
mod vault;

pub use load::{load_configuration, load_secrets, secret_values};
pub use template::substitute;
pub use vars::load_vars;
pub use vault::vault_secrets;

use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub type Configuration = Map<String, Value>;
/// Secret scopes: scope name -> mapping of secret name -> value.
pub type Secrets = Map<String, Value>;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("configuration '{key}': environment variable {env} is not set and no default is given")]
    MissingEnv { key: String, env: String },
    #[error("secret '{key}': environment variable {env} is not set")]
    MissingSecretEnv { key: String, env: String },
    #[error("configuration '{key}': an env entry needs a string 'key'")]
    EnvWithoutKey { key: String },
    #[error(
        "secret '{key}': type '{kind}' is not supported by chaos-runner (only static values and env)"
    )]
    UnsupportedSecret { key: String, kind: String },
    #[error("configuration '{key}': cannot convert '{value}' to {ty}")]
    Conversion {
        key: String,
        value: String,
        ty: String,
    },
    #[error("--var '{0}': expected NAME=VALUE or NAME:TYPE=VALUE")]
    VarSyntax(String),
    #[error("--var '{var}': {reason}")]
    VarValue { var: String, reason: String },
    #[error("var file {path}: {reason}")]
    VarFile { path: String, reason: String },
}

/// Values from `--var` and `--var-file`, plus environment variables set by `.env` files
/// (kept in an overlay instead of mutating this process's environment).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    pub configuration: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub env: BTreeMap<String, String>,
}

impl Vars {
    /// An environment variable as the run sees it: `.env` overlay first, then the process.
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}
