//! The experiment's `configuration` and `secrets` blocks resolved: static values and
//! environment variables, `--var` and var-file values overriding.

use super::vars::convert_to_type;
use super::{ConfigError, Configuration, Secrets, Vars};
use serde_json::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
