//! Configuration, secrets and variables, and `${name}` substitution.
//!
//! Follows chaostoolkit-lib: configuration values are static or read from the
//! environment (`{"type": "env", "key": ..., "default": ...}`); secrets are grouped in
//! scopes; `--var` and `--var-file` values override declared configuration keys; strings
//! in activities get `$name` / `${name}` replaced with the first match in the
//! configuration, then in each secret scope (Python `string.Template` rules).

use crate::experiment::Experiment;
use crate::python_value::py_str;
use regex::{Captures, Regex};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

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

/// Converts a string to a `--var`/`env_var_type` type, as chaoslib's `convert_to_type`.
fn convert_to_type(ty: Option<&str>, val: &str) -> Result<Value, String> {
    match ty {
        None | Some("str") | Some("string") | Some("bytes") => Ok(Value::String(val.to_string())),
        Some("int") | Some("integer") => val
            .trim()
            .replace('_', "")
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("invalid literal for int: '{val}'")),
        Some("float") | Some("number") => val
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("could not convert string to float: '{val}'")),
        Some("bool") => Ok(Value::Bool(!matches!(
            val.to_lowercase().as_str(),
            "false" | "0" | "no"
        ))),
        Some("json") => {
            if val.is_empty() {
                Ok(Value::String(String::new()))
            } else {
                serde_json::from_str(val).map_err(|e| format!("invalid JSON: {e}"))
            }
        }
        Some(other) => Err(format!(
            "unknown type '{other}': variable type can only be: bool, str, int, float, bytes or json"
        )),
    }
}

/// Parses `--var` values (`NAME=VALUE` or `NAME:TYPE=VALUE`).
fn parse_vars(raw: &[String]) -> Result<Map<String, Value>, ConfigError> {
    let mut out = Map::new();
    for item in raw {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| ConfigError::VarSyntax(item.clone()))?;
        let (name, ty) = match key.rsplit_once(':') {
            Some((n, t)) => (n, Some(t)),
            None => (key, None),
        };
        if name.is_empty() {
            return Err(ConfigError::VarSyntax(item.clone()));
        }
        let converted = convert_to_type(ty, value).map_err(|reason| ConfigError::VarValue {
            var: item.clone(),
            reason,
        })?;
        out.insert(name.to_string(), converted);
    }
    Ok(out)
}

/// Loads `--var-file`s (JSON/YAML with `configuration` and `secrets` keys, or `.env`)
/// and then the `--var`s, later ones overriding earlier ones.
pub fn load_vars(vars: &[String], var_files: &[PathBuf]) -> Result<Vars, ConfigError> {
    let mut out = Vars::default();
    for path in var_files {
        load_var_file(path, &mut out)?;
    }
    out.configuration.extend(parse_vars(vars)?);
    Ok(out)
}

fn load_var_file(path: &Path, out: &mut Vars) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    let err = |reason: String| ConfigError::VarFile {
        path: shown.clone(),
        reason,
    };
    let content = crate::experiment::read_document(path).map_err(&err)?;
    let content = String::from_utf8(content).map_err(|e| {
        err(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    // A byte-order mark is no part of the document.
    let content = content
        .strip_prefix('\u{feff}')
        .unwrap_or(&content)
        .to_string();
    if content.trim().is_empty() {
        tracing::debug!("Var file '{}' is empty", shown);
        return Ok(());
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let data: Option<Value> = match ext {
        "yaml" | "yml" => Some(serde_saphyr::from_str(&content).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {} column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            err(format!("{at}invalid YAML: {e}"))
        })?),
        "json" => Some(serde_json::from_str(&content).map_err(|e| {
            err(format!(
                "line {} column {}: invalid JSON: {e}",
                e.line(),
                e.column().max(1)
            ))
        })?),
        _ => None,
    };
    match data {
        Some(Value::Object(map)) => {
            for (section, target) in [
                ("configuration", &mut out.configuration),
                ("secrets", &mut out.secrets),
            ] {
                match map.get(section) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(values)) => {
                        target.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())))
                    }
                    Some(_) => return Err(err(format!("'{section}' must be a mapping"))),
                }
            }
            tracing::debug!("Reading configuration/secrets from {}", shown);
        }
        Some(Value::Null) => {}
        Some(_) => {
            return Err(err(
                "expected a mapping with 'configuration' and/or 'secrets'".into(),
            ));
        }
        None => {
            // A .env file: NAME=VALUE lines, comments with '#'.
            for (index, line) in content.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| err(format!("line {}: expected NAME=VALUE", index + 1)))?;
                tracing::debug!("Inject environment variable '{}' from file '{}'", k, shown);
                out.env.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok(())
}

/// Resolves the experiment's `configuration` block, with `--var` values overriding.
pub fn load_configuration(info: Option<&Value>, vars: &Vars) -> Result<Configuration, ConfigError> {
    let mut conf = Map::new();
    let Some(Value::Object(info)) = info else {
        return Ok(conf);
    };
    for (key, declared) in info {
        let overridden = vars.configuration.get(key);
        let value = overridden.unwrap_or(declared);
        let resolved = match value {
            Value::Object(entry) if entry.contains_key("type") => {
                if entry.get("type").and_then(Value::as_str) == Some("env") {
                    let env_key = entry
                        .get("key")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ConfigError::EnvWithoutKey { key: key.clone() })?;
                    match vars.env_var(env_key) {
                        Some(raw) => {
                            let ty = entry.get("env_var_type").and_then(Value::as_str);
                            convert_to_type(ty, &raw).map_err(|_| ConfigError::Conversion {
                                key: key.clone(),
                                value: raw.clone(),
                                ty: ty.unwrap_or("str").to_string(),
                            })?
                        }
                        None => match entry.get("default") {
                            Some(default) => default.clone(),
                            None => {
                                return Err(ConfigError::MissingEnv {
                                    key: key.clone(),
                                    env: env_key.to_string(),
                                });
                            }
                        },
                    }
                } else {
                    value.clone()
                }
            }
            other => other.clone(),
        };
        conf.insert(key.clone(), resolved);
    }
    Ok(conf)
}

/// Resolves the experiment's `secrets` block (scopes of secrets), with var-file
/// secrets replacing whole entries as the reference does.
pub fn load_secrets(info: Option<&Value>, vars: &Vars) -> Result<Secrets, ConfigError> {
    match info {
        Some(Value::Object(info)) => load_secret_map(info, Some(&vars.secrets), vars),
        _ => Ok(Map::new()),
    }
}

fn load_secret_map(
    info: &Map<String, Value>,
    extra: Option<&Map<String, Value>>,
    vars: &Vars,
) -> Result<Map<String, Value>, ConfigError> {
    let mut out = Map::new();
    for (key, value) in info {
        let extra_here = extra.and_then(|e| e.get(key)).filter(|v| !v.is_null());
        let resolved = match value {
            Value::Object(entry) => {
                if let Some(v) = extra_here {
                    v.clone()
                } else {
                    match entry.get("type").and_then(Value::as_str) {
                        Some("env") => {
                            let env_key = entry
                                .get("key")
                                .and_then(Value::as_str)
                                .ok_or_else(|| ConfigError::EnvWithoutKey { key: key.clone() })?;
                            Value::String(vars.env_var(env_key).ok_or_else(|| {
                                ConfigError::MissingSecretEnv {
                                    key: key.clone(),
                                    env: env_key.to_string(),
                                }
                            })?)
                        }
                        // Not readable here: left out, and refused only where it is
                        // used (see `vault_secrets_in_use`).
                        Some("vault") => continue,
                        _ => Value::Object(load_secret_map(
                            entry,
                            extra_here.and_then(Value::as_object),
                            vars,
                        )?),
                    }
                }
            }
            other => other.clone(),
        };
        out.insert(key.clone(), resolved);
    }
    Ok(out)
}

/// The Vault secrets the experiment declares (`scope.key`, or `scope` for a whole
/// scope read from Vault) and, for each, what uses it: an activity listing its scope
/// under `secrets`, or a `${key}` anywhere outside the `secrets` block. chaos-runner
/// cannot read Vault; a declared secret nothing uses is only a warning.
///
/// The users are searched for in the document as written, not in the typed model: a
/// `${key}` may sit in any string, and a provider in any mapping, unknown keys
/// included, and the verdict and its message must stay the same whatever the model
/// reads.
pub fn vault_secrets(experiment: &Experiment) -> Vec<(String, Option<String>)> {
    let Some(Value::Object(scopes)) = &experiment.secrets else {
        return Vec::new();
    };
    let is_vault = |v: &Value| v.get("type").and_then(Value::as_str) == Some("vault");
    let mut rest = experiment.written.clone();
    if let Some(o) = rest.as_object_mut() {
        o.remove("secrets");
    }
    let text = rest.to_string();
    let users = |scope: &str| -> Vec<String> {
        let mut users = Vec::new();
        find_scope_users(&rest, scope, &mut users);
        users
    };
    let mut out = Vec::new();
    for (scope, entries) in scopes {
        let mut found = Vec::new();
        if is_vault(entries) {
            found.push((scope.clone(), None));
        } else if let Value::Object(entries) = entries {
            for (key, v) in entries {
                if is_vault(v) {
                    found.push((format!("{scope}.{key}"), Some(key.clone())));
                }
            }
        }
        for (name, key) in found {
            let mut used = users(scope);
            if let Some(key) = key
                && text.contains(&format!("${{{key}}}"))
            {
                used.push(format!("${{{key}}}"));
            }
            out.push((name, (!used.is_empty()).then(|| used.join(", "))));
        }
    }
    out
}

/// Names of the activities whose provider lists `scope` under `secrets`.
fn find_scope_users(v: &Value, scope: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            let lists = o
                .get("provider")
                .and_then(|p| p.get("secrets"))
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(scope)));
            if lists {
                let name = o.get("name").and_then(Value::as_str).unwrap_or("?");
                out.push(format!("activity '{name}'"));
            }
            o.values().for_each(|x| find_scope_users(x, scope, out));
        }
        Value::Array(a) => a.iter().for_each(|x| find_scope_users(x, scope, out)),
        _ => {}
    }
}

/// Every secret value (leaf strings) so log output can mask them.
pub fn secret_values(secrets: &Secrets) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    secrets.values().for_each(|v| walk(v, &mut out));
    out
}

/// Python `string.Template`'s pattern: `$$`, `$name`, `${name}`, or a lone `$`.
static TEMPLATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$(?:(\$)|([_a-zA-Z][_a-zA-Z0-9]*)|\{([_a-zA-Z][_a-zA-Z0-9]*)\}|())")
        .expect("static template pattern is valid")
});

/// Lookup order of the reference: configuration first, then each secret scope.
fn lookup<'a>(
    name: &str,
    configuration: &'a Configuration,
    secrets: &'a Secrets,
) -> Option<&'a Value> {
    configuration.get(name).or_else(|| {
        secrets
            .values()
            .filter_map(Value::as_object)
            .find_map(|scope| scope.get(name))
    })
}

/// Substitutes one string. `"${name}"` alone yields the value with its own type.
fn substitute_str(s: &str, configuration: &Configuration, secrets: &Secrets) -> Value {
    // Every template starts with `$`: without one there is nothing to do, and the
    // pattern need not be compiled at all (most runs never use templates).
    if !s.contains('$') {
        return Value::String(s.to_string());
    }
    if let Some(c) = TEMPLATE.captures(s)
        && c.get(0)
            .is_some_and(|m| m.start() == 0 && m.end() == s.len())
        && let Some(name) = c.get(3)
        && let Some(v) = lookup(name.as_str(), configuration, secrets)
    {
        return v.clone();
    }
    let replaced = TEMPLATE.replace_all(s, |c: &Captures| {
        if c.get(1).is_some() {
            return "$".to_string();
        }
        if let Some(name) = c.get(2).or_else(|| c.get(3))
            && let Some(v) = lookup(name.as_str(), configuration, secrets)
        {
            return py_str(v);
        }
        c.get(0).map(|m| m.as_str().to_string()).unwrap_or_default()
    });
    Value::String(replaced.into_owned())
}

/// Substitutes recursively in strings, lists and mappings (keys are left alone).
pub fn substitute(data: &Value, configuration: &Configuration, secrets: &Secrets) -> Value {
    match data {
        Value::String(s) => substitute_str(s, configuration, secrets),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, configuration, secrets))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, configuration, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conf() -> (Configuration, Secrets) {
        let c = json!({"host": "localhost", "port": 8080, "list": [1, 2]});
        let s = json!({"scope": {"token": "s3cr3t", "host": "ignored"}});
        (
            c.as_object().cloned().unwrap_or_default(),
            s.as_object().cloned().unwrap_or_default(),
        )
    }

    #[test]
    fn substitution_keeps_type_of_lone_placeholder() {
        let (c, s) = conf();
        assert_eq!(substitute_str("${port}", &c, &s), json!(8080));
        assert_eq!(substitute_str("${list}", &c, &s), json!([1, 2]));
        assert_eq!(
            substitute_str("http://${host}:${port}/", &c, &s),
            json!("http://localhost:8080/")
        );
        assert_eq!(
            substitute_str("$host-$$-${nope}-$", &c, &s),
            json!("localhost-$-${nope}-$")
        );
        assert_eq!(substitute_str("${token}", &c, &s), json!("s3cr3t"));
        assert_eq!(substitute_str("$port", &c, &s), json!("8080"));
    }

    #[test]
    fn var_parsing_and_types() {
        let v = parse_vars(&[
            "a=1".into(),
            "b:int=2".into(),
            "c:float=1.5".into(),
            "d=x=y".into(),
        ])
        .unwrap_or_default();
        assert_eq!(v.get("a"), Some(&json!("1")));
        assert_eq!(v.get("b"), Some(&json!(2)));
        assert_eq!(v.get("c"), Some(&json!(1.5)));
        assert_eq!(v.get("d"), Some(&json!("x=y")));
        assert!(matches!(
            parse_vars(&["novalue".into()]),
            Err(ConfigError::VarSyntax(_))
        ));
        assert!(matches!(
            parse_vars(&["n:int=abc".into()]),
            Err(ConfigError::VarValue { .. })
        ));
        assert!(matches!(
            parse_vars(&["n:weird=1".into()]),
            Err(ConfigError::VarValue { .. })
        ));
    }

    #[test]
    fn configuration_env_default_and_override() {
        let info = json!({
            "a": {"type": "env", "key": "CHAOS_RUNNER_TEST_SURELY_UNSET", "default": "dflt"},
            "b": {"type": "env", "key": "CHAOS_RUNNER_TEST_FROM_OVERLAY", "env_var_type": "int"},
            "c": "static",
            "d": {"type": "env", "key": "CHAOS_RUNNER_TEST_SURELY_UNSET"}
        });
        let mut vars = Vars::default();
        vars.env
            .insert("CHAOS_RUNNER_TEST_FROM_OVERLAY".into(), "42".into());
        vars.configuration.insert("d".into(), json!("from-var"));
        let c = load_configuration(Some(&info), &vars).unwrap_or_default();
        assert_eq!(c.get("a"), Some(&json!("dflt")));
        assert_eq!(c.get("b"), Some(&json!(42)));
        assert_eq!(c.get("c"), Some(&json!("static")));
        assert_eq!(c.get("d"), Some(&json!("from-var")));
        vars.configuration.clear();
        assert_eq!(
            load_configuration(Some(&info), &vars),
            Err(ConfigError::MissingEnv {
                key: "d".into(),
                env: "CHAOS_RUNNER_TEST_SURELY_UNSET".into()
            })
        );
    }

    #[test]
    fn secrets_scopes_and_env() {
        let info = json!({"k8s": {"token": {"type": "env", "key": "CHAOS_RUNNER_TEST_TOKEN"}, "plain": "p"}});
        let mut vars = Vars::default();
        vars.env
            .insert("CHAOS_RUNNER_TEST_TOKEN".into(), "tok".into());
        let s = load_secrets(Some(&info), &vars).unwrap_or_default();
        assert_eq!(
            Value::Object(s.clone()),
            json!({"k8s": {"token": "tok", "plain": "p"}})
        );
        assert_eq!(secret_values(&s), vec!["tok".to_string(), "p".to_string()]);
        vars.env.clear();
        assert!(matches!(
            load_secrets(Some(&info), &vars),
            Err(ConfigError::MissingSecretEnv { .. })
        ));
    }
}
