//! Secrets declared to come from Vault, which chaos-runner cannot read, and what uses
//! each.

use crate::experiment::Experiment;
use serde_json::Value;

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
