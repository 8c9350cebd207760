//! The rules of an activity, then its provider's.

use crate::activity::Activity;
use crate::diagnostics::{Problems, pointer};
use crate::drivers::Registry;
use crate::python_value::{py_str, py_truthy};
use serde_json::Value;

impl Activity {
    /// The activity rules (`at` is its JSON pointer), then its provider's. (An entry
    /// that is not a mapping is no [`Activity`]: the caller reports it.)
    pub fn validate(&self, at: &str, registry: &Registry, problems: &mut Problems) {
        let a = &self.fields;
        if self.written.is_empty() {
            problems.add(at, "empty activity is no activity");
            return;
        }
        if let Some(r) = a.reference.as_ref().filter(|r| !r.is_null()) {
            if r.as_str().is_none_or(str::is_empty) {
                problems.add(
                    pointer(at, "ref"),
                    "reference to activity must be non-empty strings",
                );
            }
            return;
        }
        match &a.kind {
            v if !v.as_ref().is_some_and(py_truthy) => {
                problems.add(pointer(at, "type"), "an activity must have a type")
            }
            Some(Value::String(t)) if t == "probe" || t == "action" => {}
            Some(t) => problems.add(
                pointer(at, "type"),
                format!("'{}' is not a supported activity type", py_str(t)),
            ),
            None => {}
        }
        if !a.name.as_ref().is_some_and(py_truthy) {
            problems.add(pointer(at, "name"), "an activity must have a name");
        }
        if let Some(why) = a
            .timeout
            .as_ref()
            .filter(|t| !t.is_null())
            .and_then(|t| crate::duration::problem(t, "activity timeout"))
        {
            problems.add(pointer(at, "timeout"), why);
        }
        if let Some(pauses) = self.pauses.as_ref().filter(|p| !p.is_null()) {
            if pauses.is_object() {
                for (key, pause) in [("before", &a.pause_before), ("after", &a.pause_after)] {
                    match pause {
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
            } else {
                problems.add(pointer(at, "pauses"), "activity pauses must be a mapping");
            }
        }
        if let Some(bg) = &a.background
            && !bg.is_boolean()
        {
            problems.add(
                pointer(at, "background"),
                "activity background must be a boolean",
            );
        }
        let kind = a.kind.as_ref().and_then(Value::as_str);
        crate::validate::provider::validate(
            a.provider.as_ref(),
            self.provider.as_ref(),
            &pointer(at, "provider"),
            &self.name,
            kind,
            registry,
            problems,
        );
    }
}
