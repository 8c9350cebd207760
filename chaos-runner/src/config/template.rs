//! `$name` / `${name}` substitution with Python `string.Template`'s rules: the first
//! match in the configuration, then in each secret scope.

use super::{Configuration, Secrets};
use crate::python_value::py_str;
use regex::{Captures, Regex};
use serde_json::Value;
use std::sync::LazyLock;

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
}
