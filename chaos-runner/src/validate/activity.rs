//! The rules of an activity, then its provider's.

use crate::activity::Activity;
use crate::diagnostics::{Problems, pointer};
use crate::drivers::Registry;
use crate::provider::Provider;
use crate::python_value::{py_str, py_truthy};
use serde_json::Value;

impl Activity {
    /// The activity rules (`at` is its JSON pointer), then its provider's.
    pub fn validate(activity: &Value, at: &str, registry: &Registry, problems: &mut Problems) {
        let Some(a) = activity.as_object() else {
            problems.add(at, "an activity must be a mapping");
            return;
        };
        if a.is_empty() {
            problems.add(at, "empty activity is no activity");
            return;
        }
        if let Some(r) = a.get("ref").filter(|r| !r.is_null()) {
            if r.as_str().is_none_or(str::is_empty) {
                problems.add(
                    pointer(at, "ref"),
                    "reference to activity must be non-empty strings",
                );
            }
            return;
        }
        match a.get("type") {
            v if !v.is_some_and(py_truthy) => {
                problems.add(pointer(at, "type"), "an activity must have a type")
            }
            Some(Value::String(t)) if t == "probe" || t == "action" => {}
            Some(t) => problems.add(
                pointer(at, "type"),
                format!("'{}' is not a supported activity type", py_str(t)),
            ),
            None => {}
        }
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        if !a.get("name").is_some_and(py_truthy) {
            problems.add(pointer(at, "name"), "an activity must have a name");
        }
        if let Some(why) = a
            .get("timeout")
            .filter(|t| !t.is_null())
            .and_then(|t| crate::duration::problem(t, "activity timeout"))
        {
            problems.add(pointer(at, "timeout"), why);
        }
        if let Some(pauses) = a.get("pauses").filter(|p| !p.is_null()) {
            match pauses.as_object() {
                Some(p) => {
                    for key in ["before", "after"] {
                        match p.get(key) {
                            None | Some(Value::Null) => {}
                            Some(Value::Number(n)) => {
                                if let Err(why) = crate::duration::check(n.as_f64().unwrap_or(f64::NAN)) {
                                    problems.add(
                                        pointer(&pointer(at, "pauses"), key),
                                        format!("activity {key} pause {why}"),
                                    );
                                }
                            }
                            Some(Value::String(s)) if s.starts_with("${") && s.ends_with('}') => {}
                            Some(_) => problems.add(
                                pointer(&pointer(at, "pauses"), key),
                                format!(
                                    "activity {key} pause must be a number or a pattern to a variable from the configuration or secrets"
                                ),
                            ),
                        }
                    }
                }
                None => problems.add(pointer(at, "pauses"), "activity pauses must be a mapping"),
            }
        }
        if let Some(bg) = a.get("background")
            && !bg.is_boolean()
        {
            problems.add(
                pointer(at, "background"),
                "activity background must be a boolean",
            );
        }
        let kind = a.get("type").and_then(Value::as_str);
        Provider::validate(
            a.get("provider"),
            &pointer(at, "provider"),
            name,
            kind,
            registry,
            problems,
        );
    }
}
