//! The rules of a hypothesis probe's `tolerance`.

use crate::activity::Activity;
use crate::diagnostics::{Problems, pointer};
use crate::drivers::Registry;
use crate::tolerance::{compile_jsonpath, regex_error};
use serde_json::Value;

/// The rules of a hypothesis probe's `tolerance` (`at` its JSON pointer); a probe
/// tolerance is an activity, checked as one.
pub fn validate(t: &Value, at: &str, registry: &Registry, problems: &mut Problems) {
    match t {
        Value::Bool(_) | Value::String(_) | Value::Array(_) => {}
        Value::Number(n) if n.is_i64() || n.is_u64() => {}
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("probe") => Activity::validate(t, at, registry, problems),
            Some("regex") => match obj.get("pattern") {
                None => problems.add(at, "hypothesis regex probe tolerance must have a `pattern` key"),
                Some(Value::String(p)) => {
                    // A `${...}` pattern is resolved at run time.
                    if !p.contains('$')
                        && let Err(e) = regex::Regex::new(p)
                    {
                        problems.add(
                            pointer(at, "pattern"),
                            format!(
                                "hypothesis probe tolerance pattern {p} seems invalid: {}",
                                regex_error(&e)
                            ),
                        );
                    }
                }
                Some(other) => problems.add(
                    pointer(at, "pattern"),
                    format!("hypothesis probe tolerance pattern {other} has an invalid type"),
                ),
            },
            Some("jsonpath") => match obj.get("path") {
                None => problems.add(at, "hypothesis jsonpath probe tolerance must have a `path` key"),
                Some(Value::String(p)) if p.trim().is_empty() => problems.add(
                    pointer(at, "path"),
                    "hypothesis probe tolerance JSON path cannot be empty",
                ),
                Some(Value::String(p)) => {
                    if !p.contains("${")
                        && let Err(e) = compile_jsonpath(p)
                    {
                        problems.add(pointer(at, "path"), format!("hypothesis probe tolerance {e}"));
                    }
                }
                Some(other) => problems.add(
                    pointer(at, "path"),
                    format!("hypothesis probe tolerance JSON path {other} has an invalid type"),
                ),
            },
            Some("range") => match obj.get("range") {
                None => problems.add(at, "hypothesis range probe tolerance must have a `range` key"),
                Some(Value::Array(r)) if r.len() != 2 => problems.add(
                    pointer(at, "range"),
                    "hypothesis range sequence must be made of two values",
                ),
                Some(Value::Array(r)) => {
                    if !r[0].is_number() {
                        problems.add(pointer(&pointer(at, "range"), 0), "hypothesis range lower boundary must be a number");
                    }
                    if !r[1].is_number() {
                        problems.add(pointer(&pointer(at, "range"), 1), "hypothesis range upper boundary must be a number");
                    }
                }
                Some(_) => problems.add(pointer(at, "range"), "hypothesis range must be a sequence"),
            },
            other => problems.add(
                pointer(at, "type"),
                format!(
                    "hypothesis probe tolerance type '{}' is unsupported",
                    other.map_or_else(|| "None".to_string(), str::to_string)
                ),
            ),
        },
        _ => problems.add(
            at,
            "hypothesis probe tolerance must either be an integer, a string, a boolean or a pair of values for boundaries. It can also be a dictionary which is a probe activity definition that takes an argument called `value` with the value of the probe itself to be validated",
        ),
    }
}
