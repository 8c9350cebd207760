//! Python value semantics over JSON values.
//!
//! The reference runner is written in Python, so its tolerances compare values with
//! Python's `==`, `<=` and `in`, and its substitution renders values with `str()`.
//! These helpers reproduce those rules so the same output gives the same verdict.

use serde_json::{Number, Value};
use std::cmp::Ordering;

/// A number as Python sees it: bools are the integers 0 and 1.
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => number_to_f64(n),
        _ => None,
    }
}

fn number_to_f64(n: &Number) -> Option<f64> {
    n.as_f64()
}

/// Exact integer view, used so large integers compare exactly.
fn as_integer(v: &Value) -> Option<i128> {
    match v {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

/// Python's `a == b`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (as_integer(a), as_integer(b)) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x == y;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// Python's ordering for `<`/`<=`; `None` where Python raises `TypeError`.
pub fn py_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_integer(a), as_integer(b)) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (as_number(a), as_number(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        // Python compares str by code point, which is what Rust's str ordering does.
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return py_cmp(p, q);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => None,
    }
}

/// Python's `needle in haystack` for a list.
pub fn py_in(needle: &Value, haystack: &[Value]) -> bool {
    haystack.iter().any(|v| py_eq(v, needle))
}

/// Python's truthiness.
pub fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str(value)`, as used when a value is pasted into a longer string.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)` for the JSON subset (nested values inside lists and dicts).
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => number_repr(n),
        Value::String(s) => string_repr(s),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{}: {}", string_repr(k), py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `json.dumps(value)` with its defaults (what `requests` sends as a JSON
/// body): `", "` and `": "` separators, every character outside printable ASCII
/// escaped (`\u00e9`; surrogate pairs beyond the BMP), floats as `repr()`.
pub fn py_json_dumps(v: &Value) -> String {
    let mut out = String::new();
    json_dumps_into(v, &mut out);
    out
}

fn json_dumps_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_repr(n)),
        Value::String(s) => json_string_into(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_dumps_into(item, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_string_into(k, out);
                out.push_str(": ");
                json_dumps_into(item, out);
            }
            out.push('}');
        }
    }
}

fn json_string_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn number_repr(n: &Number) -> String {
    if n.is_f64() {
        match n.as_f64() {
            Some(f) if f.is_finite() && f == f.trunc() && f.abs() < 1e16 => format!("{f:.1}"),
            Some(f) => format!("{f}"),
            None => n.to_string(),
        }
    } else {
        n.to_string()
    }
}

fn string_repr(s: &str) -> String {
    // Python prefers single quotes unless the string holds one and no double quote.
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_dumps_follows_python() {
        // Each expected text is Python's json.dumps of the same value.
        let cases = [
            (
                json!({"a": "b", "n": [1, 2.5, null, true]}),
                r#"{"a": "b", "n": [1, 2.5, null, true]}"#,
            ),
            (json!({"k": 1.0}), r#"{"k": 1.0}"#),
            (
                json!("caf\u{e9} \u{1F600} \"q\" \\ \n\u{7f}"),
                r#""caf\u00e9 \ud83d\ude00 \"q\" \\ \n\u007f""#,
            ),
            (json!([]), "[]"),
            (json!({}), "{}"),
        ];
        for (value, python) in cases {
            assert_eq!(py_json_dumps(&value), python, "{value}");
        }
    }

    #[test]
    fn equality_follows_python() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]})));
        assert!(!py_eq(&json!(null), &json!(false)));
    }

    #[test]
    fn ordering_follows_python() {
        assert_eq!(py_cmp(&json!(1), &json!(2.5)), Some(Ordering::Less));
        assert_eq!(py_cmp(&json!("b"), &json!("a")), Some(Ordering::Greater));
        assert_eq!(py_cmp(&json!("1"), &json!(1)), None);
        assert_eq!(py_cmp(&json!([1, 2]), &json!([1, 3])), Some(Ordering::Less));
    }

    #[test]
    fn str_and_repr_follow_python() {
        assert_eq!(py_str(&json!(3)), "3");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(
            py_str(&json!({"a": "b", "c": [1, null]})),
            "{'a': 'b', 'c': [1, None]}"
        );
        assert_eq!(py_str(&json!("it's")), "it's");
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
    }
}
