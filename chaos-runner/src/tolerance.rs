//! Tolerances: is a steady-state probe's output what the hypothesis expects?
//!
//! Same verdicts as chaostoolkit-lib's `within_tolerance` for the same output:
//! - `true`/`false`, a string: equality;
//! - an integer: equality, or the `status` of an http/process output;
//! - a list: membership of the `status` of an http/process output, else a
//!   `[low, high]` bound check for two items (Python comparison), else membership;
//! - `{"type": "range", "range": [lo, hi], "target": ...}`;
//! - `{"type": "regex", "pattern": ..., "target": ...}` (search anywhere);
//! - `{"type": "jsonpath", "path": ..., "expect": ..., "count": ..., "target": ...}`;
//! - `{"type": "probe", ...}`: another activity called with `value` = the output.

use crate::config::substitute;
use crate::drivers::Registry;
use crate::provider::ProviderContext;
use crate::pyvalue::{py_cmp, py_eq, py_in, py_repr, py_truthy};
use crate::validate::{Problems, pointer};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Why a tolerance could not be evaluated (the reference raises in these cases).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ToleranceError(pub String);

/// A hypothesis probe's tolerance, read after `${}` substitution (of a string
/// tolerance as a whole; a regex's `pattern`, a jsonpath's `path` and `expect` when it
/// is checked).
#[derive(Debug, Clone, PartialEq)]
pub enum Tolerance {
    /// `true`/`false` or a string: equality.
    Equals(Value),
    /// An integer: equality, or the `status` of an http/process output.
    Integer(Value),
    /// A list: membership of the `status` of an http/process output, else a
    /// `[low, high]` bound check for two items, else membership.
    List(Vec<Value>),
    /// Another activity, as written; it is called with `value` = the output.
    Probe(Map<String, Value>),
    Regex {
        pattern: Option<Value>,
        target: Option<String>,
    },
    JsonPath {
        path: Option<Value>,
        count: Option<Value>,
        expect: Option<Value>,
        target: Option<String>,
    },
    Range {
        range: Option<Vec<Value>>,
        target: Option<String>,
    },
    /// A mapping whose `type` is none of the above (empty when absent).
    Unsupported(String),
    /// Floats and null are not valid tolerances; the reference finds them never met.
    Never,
}

impl Tolerance {
    pub fn from_value(t: &Value) -> Tolerance {
        match t {
            Value::Bool(_) | Value::String(_) => Tolerance::Equals(t.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Tolerance::Integer(t.clone()),
            Value::Array(items) => Tolerance::List(items.clone()),
            Value::Object(o) => {
                let target = o
                    .get("target")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                match o.get("type").and_then(Value::as_str) {
                    Some("probe") => Tolerance::Probe(o.clone()),
                    Some("regex") => Tolerance::Regex {
                        pattern: o.get("pattern").cloned(),
                        target,
                    },
                    Some("jsonpath") => Tolerance::JsonPath {
                        path: o.get("path").cloned(),
                        count: o.get("count").filter(|c| !c.is_null()).cloned(),
                        expect: o.get("expect").cloned(),
                        target,
                    },
                    Some("range") => Tolerance::Range {
                        range: o.get("range").and_then(Value::as_array).cloned(),
                        target,
                    },
                    other => Tolerance::Unsupported(other.unwrap_or("").to_string()),
                }
            }
            _ => Tolerance::Never,
        }
    }
}

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
            match range.as_deref() {
                Some([lo, hi]) => match (decimal(lo), decimal(hi)) {
                    (Some(lo), Some(hi)) => Ok(lo <= v && v <= hi),
                    _ => Err(ToleranceError("range bounds must be numbers".into())),
                },
                _ => Err(ToleranceError("range must be a list of two numbers".into())),
            }
        }
        Tolerance::Unsupported(other) => Err(ToleranceError(format!(
            "unsupported tolerance type '{other}'"
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

/// Parses a JSONPath. RFC 9535 syntax, plus the reference's (jsonpath2) `=` equality
/// inside filters, which is rewritten to `==`.
pub fn compile_jsonpath(path: &str) -> Result<serde_json_path::JsonPath, String> {
    let path = path.trim();
    if path.is_empty() {
        return Err("JSON path cannot be empty".into());
    }
    let rewritten = rewrite_single_equals(path);
    serde_json_path::JsonPath::parse(&rewritten)
        .or_else(|_| serde_json_path::JsonPath::parse(path))
        .map_err(|e| format!("JSON path {path} is invalid: {e}"))
}

/// `@.a = 1` -> `@.a == 1`, outside quoted strings, leaving `==`, `!=`, `<=`, `>=` alone.
fn rewrite_single_equals(path: &str) -> String {
    let chars: Vec<char> = path.chars().collect();
    let mut out = String::with_capacity(path.len() + 4);
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) => {
                if c == q && chars.get(i.wrapping_sub(1)) != Some(&'\\') {
                    quote = None;
                }
                out.push(c);
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                    out.push(c);
                } else if c == '='
                    && !matches!(chars.get(i.wrapping_sub(1)), Some('=' | '!' | '<' | '>'))
                    && chars.get(i + 1) != Some(&'=')
                    && i > 0
                {
                    out.push_str("==");
                } else {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The rules of a hypothesis probe's `tolerance` (`at` its JSON pointer); a probe
/// tolerance is an activity, checked as one.
pub fn validate(t: &Value, at: &str, registry: &Registry, problems: &mut Problems) {
    match t {
        Value::Bool(_) | Value::String(_) | Value::Array(_) => {}
        Value::Number(n) if n.is_i64() || n.is_u64() => {}
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("probe") => crate::activity::Activity::validate(t, at, registry, problems),
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

/// A regex error on one line: the reason and where in the pattern (the regex crate
/// spreads it over several lines, the pattern and a caret under it).
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let reason = lines
        .iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| lines.last().map_or("", |l| l.trim()));
    // The pattern is shown indented by four spaces, the caret line under it likewise.
    let column = lines
        .iter()
        .find(|l| l.trim_start().starts_with('^'))
        .and_then(|caret| caret.find('^'))
        .map(|at| at.saturating_sub(4) + 1);
    match column {
        Some(column) => format!("{reason} (at character {column})"),
        None => reason.to_string(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_regex_error_is_one_line_with_its_position() {
        // Built at run time: clippy rejects an invalid literal pattern.
        let pattern = format!("ab{}c", "(");
        let e = regex::Regex::new(&pattern).unwrap_err();
        let line = regex_error(&e);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("unclosed group"), "{line}");
        assert!(line.contains("at character 3"), "{line}");
    }

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
        let io = std::sync::Arc::new(crate::provider::Io::default());
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

    #[test]
    fn single_equals_rewrite() {
        assert_eq!(
            rewrite_single_equals("$[?(@.a = 'x=y')]"),
            "$[?(@.a == 'x=y')]"
        );
        assert_eq!(rewrite_single_equals("$[?(@.a >= 1)]"), "$[?(@.a >= 1)]");
        assert_eq!(rewrite_single_equals("$[?(@.a == 1)]"), "$[?(@.a == 1)]");
    }
}
