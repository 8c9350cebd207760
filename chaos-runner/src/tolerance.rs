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
//!
//! This module reads a tolerance; [`crate::engine::tolerance`] checks an output against
//! it, [`crate::validate::tolerance`] holds its rules.

use serde_json::{Map, Value};

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
        /// As written.
        range: Option<Value>,
        target: Option<String>,
    },
    /// A mapping whose `type` is none of the above (`None` when absent or not a string).
    Unsupported(Option<String>),
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
                        range: o.get("range").cloned(),
                        target,
                    },
                    other => Tolerance::Unsupported(other.map(str::to_string)),
                }
            }
            _ => Tolerance::Never,
        }
    }
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

/// A regex error on one line: the reason and where in the pattern (the regex crate
/// spreads it over several lines, the pattern and a caret under it).
pub fn regex_error(e: &regex::Error) -> String {
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
    use super::*;

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
