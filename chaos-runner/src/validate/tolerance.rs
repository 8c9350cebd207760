//! The rules of a hypothesis probe's `tolerance`.

use crate::activity::Activity;
use crate::diagnostics::{Problems, pointer};
use crate::drivers::Registry;
use crate::tolerance::{Tolerance, compile_jsonpath, regex_error};
use serde_json::Value;

/// The rules of a hypothesis probe's `tolerance` (`at` its JSON pointer); a probe
/// tolerance is an activity, checked as one. `t` is read from the tolerance as written.
pub fn validate(t: &Tolerance, at: &str, registry: &Registry, problems: &mut Problems) {
    match t {
        Tolerance::Equals(_) | Tolerance::Integer(_) | Tolerance::List(_) => {}
        Tolerance::Probe(probe) => Activity::from_map(probe).validate(at, registry, problems),
        Tolerance::Regex { pattern, .. } => match pattern {
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
        Tolerance::JsonPath { path, .. } => match path {
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
        Tolerance::Range { range, .. } => match range {
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
        Tolerance::Unsupported(other) => problems.add(
            pointer(at, "type"),
            format!(
                "hypothesis probe tolerance type '{}' is unsupported",
                other.as_deref().unwrap_or("None")
            ),
        ),
        Tolerance::Never => problems.add(
            at,
            "hypothesis probe tolerance must either be an integer, a string, a boolean or a pair of values for boundaries. It can also be a dictionary which is a probe activity definition that takes an argument called `value` with the value of the probe itself to be validated",
        ),
    }
}
