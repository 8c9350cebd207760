//! Whether a probe's output is within its tolerance: the same verdicts as
//! chaostoolkit-lib's `within_tolerance` for the same output.

use super::provider::ProviderContext;
use crate::config::substitute;
use crate::python_value::{py_cmp, py_eq, py_in, py_repr, py_truthy};
use crate::tolerance::{Tolerance, compile_jsonpath, regex_error};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Why a tolerance could not be evaluated (the reference raises in these cases).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ToleranceError(pub String);

/// Whether `output` is within `tolerance`.
pub fn within_tolerance(
    tolerance: &Tolerance,
    output: &Value,
    ctx: &ProviderContext,
) -> Result<bool, ToleranceError> {
    match tolerance {
        Tolerance::Equals(t) => Ok(py_eq(output, t)),
        Tolerance::Integer(t) => {
            if let Some(status) = output_status(output) {
                return Ok(py_eq(status, t));
            }
            Ok(py_eq(output, t))
        }
        Tolerance::List(items) => {
            if let Some(status) = output_status(output) {
                return Ok(py_in(status, items));
            }
            if items.len() == 2 {
                let lo = py_cmp(&items[0], output);
                let hi = py_cmp(output, &items[1]);
                return match (lo, hi) {
                    (Some(a), Some(b)) => Ok(a != Ordering::Greater && b != Ordering::Greater),
                    _ => Err(ToleranceError(format!(
                        "cannot compare {} with the bounds {}",
                        py_repr(output),
                        py_repr(&Value::Array(items.clone()))
                    ))),
                };
            }
            Ok(py_in(output, items))
        }
        Tolerance::Probe(probe) => {
            let mut probe = probe.clone();
            if let Some(Value::Object(provider)) = probe.get_mut("provider") {
                let args = provider
                    .entry("arguments")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(args) = args {
                    args.insert("value".into(), output.clone());
                }
            }
            let probe = crate::activity::Activity::from_map(&probe);
            Ok(probe
                .run_provider(ctx)
                .is_ok_and(|output| py_truthy(&output.into_value())))
        }
        Tolerance::Regex { pattern, target } => {
            let value = targeted(target, output);
            let pattern = pattern
                .as_ref()
                .map(|p| substitute(p, ctx.configuration, ctx.secrets))
                .and_then(|p| p.as_str().map(str::to_string))
                .ok_or_else(|| ToleranceError("regex tolerance needs a string pattern".into()))?;
            tracing::debug!("Applied pattern is: {}", pattern);
            let rx = regex::Regex::new(&pattern).map_err(|e| {
                ToleranceError(format!("invalid pattern {pattern}: {}", regex_error(&e)))
            })?;
            let text = value.as_str().ok_or_else(|| {
                ToleranceError(format!(
                    "regex tolerance expects a string, got {}",
                    py_repr(value)
                ))
            })?;
            Ok(rx.is_match(text))
        }
        Tolerance::JsonPath {
            path,
            count,
            expect,
            target,
        } => jsonpath(path, count, expect, targeted(target, output), ctx),
        Tolerance::Range { range, target } => {
            let value = targeted(target, output);
            let Some(v) = decimal(value) else {
                tracing::debug!("range check expects a number value");
                return Ok(false);
            };
            match range.as_ref().and_then(Value::as_array).map(Vec::as_slice) {
                Some([lo, hi]) => match (decimal(lo), decimal(hi)) {
                    (Some(lo), Some(hi)) => Ok(lo <= v && v <= hi),
                    _ => Err(ToleranceError("range bounds must be numbers".into())),
                },
                _ => Err(ToleranceError("range must be a list of two numbers".into())),
            }
        }
        Tolerance::Unsupported(other) => Err(ToleranceError(format!(
            "unsupported tolerance type '{}'",
            other.as_deref().unwrap_or("")
        ))),
        Tolerance::Never => Ok(false),
    }
}

/// The `status` of an http/process output (any mapping with a `status` key).
fn output_status(output: &Value) -> Option<&Value> {
    output.as_object().and_then(|o| o.get("status"))
}

/// The part of the output a tolerance's `target` names (the whole output without one,
/// or when the output has no such key).
fn targeted<'a>(target: &Option<String>, output: &'a Value) -> &'a Value {
    match target {
        Some(key) => output
            .as_object()
            .and_then(|o| o.get(key))
            .unwrap_or(output),
        None => output,
    }
}

/// Python's `Decimal(value)`: numbers, bools and numeric strings (whitespace allowed).
fn decimal(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .filter(|f| !f.is_nan()),
        _ => None,
    }
}

fn jsonpath(
    path: &Option<Value>,
    count: &Option<Value>,
    expect: &Option<Value>,
    target: &Value,
    ctx: &ProviderContext,
) -> Result<bool, ToleranceError> {
    let path = path
        .as_ref()
        .map(|p| substitute(p, ctx.configuration, ctx.secrets))
        .and_then(|p| p.as_str().map(str::to_string))
        .ok_or_else(|| ToleranceError("jsonpath tolerance needs a string path".into()))?;
    tracing::debug!("Applied jsonpath is: {}", path);
    let compiled = compile_jsonpath(&path).map_err(ToleranceError)?;
    let mut value = target.clone();
    // A JSON document held in a string is matched as the document.
    if let Value::String(s) = &value
        && let Ok(parsed) = serde_json::from_str::<Value>(s)
    {
        value = parsed;
    }
    let values: Vec<Value> = compiled.query(&value).all().into_iter().cloned().collect();
    let mut result = !values.is_empty();
    if let Some(count) = count {
        result = py_eq(&Value::from(values.len()), count);
    }
    if let Some(expect) = expect {
        let expect = substitute(expect, ctx.configuration, ctx.secrets);
        let found = Value::Array(values.clone());
        result = match &expect {
            Value::Array(_) => py_eq(&found, &expect),
            other => py_eq(&found, &Value::Array(vec![other.clone()])),
        };
        if !result {
            tracing::debug!(
                "jsonpath found '{}' but expected '{}'",
                py_repr(&found),
                py_repr(&expect)
            );
        }
    } else if !result {
        let found = py_repr(&Value::Array(values));
        tracing::debug!("jsonpath found '{}'", found);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::Registry;
    use crate::interrupt::Cancel;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn check(tolerance: Value, output: Value) -> Result<bool, ToleranceError> {
        let (c, s, e, r, k) = (
            Map::new(),
            Map::new(),
            BTreeMap::new(),
            Registry::empty(),
            Cancel::new(),
        );
        let io = std::sync::Arc::new(crate::run_io::RunIo::default());
        let ctx = ProviderContext {
            configuration: &c,
            secrets: &s,
            env: &e,
            registry: &r,
            cancel: &k,
            io: &io,
        };
        within_tolerance(&Tolerance::from_value(&tolerance), &output, &ctx)
    }

    #[test]
    fn scalar_tolerances() {
        assert_eq!(check(json!(true), json!(true)), Ok(true));
        assert_eq!(check(json!(true), json!(1)), Ok(true), "Python: True == 1");
        assert_eq!(check(json!(false), json!(true)), Ok(false));
        assert_eq!(check(json!("ok"), json!("ok")), Ok(true));
        assert_eq!(check(json!("ok"), json!({"status": "ok"})), Ok(false));
        assert_eq!(
            check(json!(200), json!({"status": 200, "body": ""})),
            Ok(true)
        );
        assert_eq!(check(json!(0), json!({"status": 1})), Ok(false));
        assert_eq!(check(json!(3), json!(3.0)), Ok(true));
        assert_eq!(
            check(json!(1.5), json!(1.5)),
            Ok(false),
            "float tolerance never met"
        );
    }

    #[test]
    fn list_tolerances() {
        assert_eq!(
            check(json!([200, 201, 204]), json!({"status": 204})),
            Ok(true)
        );
        assert_eq!(
            check(json!([200, 503]), json!({"status": 404})),
            Ok(false),
            "status: membership"
        );
        assert_eq!(
            check(json!([1, 5]), json!(3)),
            Ok(true),
            "two items: bounds"
        );
        assert_eq!(check(json!([1, 5]), json!(6)), Ok(false));
        assert_eq!(check(json!(["a", "c"]), json!("b")), Ok(true));
        assert_eq!(check(json!([1, 2, 3]), json!(2)), Ok(true));
        assert_eq!(check(json!([1, 2, 3]), json!(4)), Ok(false));
        assert!(check(json!([1, 5]), json!("x")).is_err());
    }

    #[test]
    fn range_regex_jsonpath() {
        let out = json!({"status": 0, "stdout": " 42\n", "stderr": ""});
        assert_eq!(
            check(
                json!({"type": "range", "range": [40, 50], "target": "stdout"}),
                out.clone()
            ),
            Ok(true)
        );
        assert_eq!(
            check(
                json!({"type": "range", "range": [0, 10], "target": "stdout"}),
                out.clone()
            ),
            Ok(false)
        );
        assert_eq!(
            check(json!({"type": "range", "range": [0, 10]}), json!("abc")),
            Ok(false)
        );
        assert_eq!(
            check(
                json!({"type": "regex", "pattern": "^ 4\\d", "target": "stdout"}),
                out.clone()
            ),
            Ok(true)
        );
        assert_eq!(
            check(
                json!({"type": "regex", "pattern": "nope", "target": "stdout"}),
                out
            ),
            Ok(false)
        );
        let body = json!({"status": 200, "body": {"items": [{"s": "UP"}, {"s": "DOWN"}]}});
        let jp = |t: Value| check(t, body.clone());
        assert_eq!(
            jp(json!({"type": "jsonpath", "path": "$.items[*].s", "target": "body"})),
            Ok(true)
        );
        assert_eq!(
            jp(json!({"type": "jsonpath", "path": "$.items[*].s", "target": "body", "count": 2})),
            Ok(true)
        );
        assert_eq!(
            jp(json!({"type": "jsonpath", "path": "$.items[*].s", "target": "body", "count": 3})),
            Ok(false)
        );
        assert_eq!(
            jp(
                json!({"type": "jsonpath", "path": "$.items[0].s", "target": "body", "expect": "UP"})
            ),
            Ok(true)
        );
        assert_eq!(
            jp(
                json!({"type": "jsonpath", "path": "$.items[*].s", "target": "body", "expect": ["UP", "DOWN"]})
            ),
            Ok(true)
        );
        assert_eq!(
            jp(
                json!({"type": "jsonpath", "path": "$.items[*].s", "target": "body", "expect": "UP"})
            ),
            Ok(false)
        );
        assert_eq!(
            jp(
                json!({"type": "jsonpath", "path": "$.items[?(@.s = 'UP')]", "target": "body", "count": 1})
            ),
            Ok(true)
        );
        assert_eq!(
            jp(json!({"type": "jsonpath", "path": "$.missing", "target": "body"})),
            Ok(false)
        );
        // A JSON document in a string is parsed first.
        assert_eq!(
            check(
                json!({"type": "jsonpath", "path": "$.a", "expect": 1}),
                json!("{\"a\": 1}")
            ),
            Ok(true)
        );
    }
}
