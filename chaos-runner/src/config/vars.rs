//! `--var` and `--var-file` (JSON/YAML with `configuration` and `secrets` keys, or a
//! `.env` file), as chaostoolkit-lib reads them.

use super::{ConfigError, Vars};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Converts a string to a `--var`/`env_var_type` type, as chaoslib's `convert_to_type`.
pub(super) fn convert_to_type(ty: Option<&str>, val: &str) -> Result<Value, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
