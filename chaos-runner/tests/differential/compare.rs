//! Comparing two journals field by field: each is reduced to a view of what both
//! runners must agree on (timestamps, durations, header values and the exception's
//! text are left out), then the views are walked together and every differing leaf is
//! a [`Difference`] with its path and kind (`run[].status`: the path without indices).

use serde_json::{Map, Value, json};
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: String,
    pub reference: Value,
    pub ours: Value,
}

impl Difference {
    /// The path with list indices dropped: what the summary counts.
    pub fn kind(&self) -> String {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| if s.parse::<usize>().is_ok() { "[]" } else { s })
            .collect::<Vec<_>>()
            .join("/")
            .replace("/[]", "[]")
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: reference {} | ours {}",
            self.path,
            short(&self.reference),
            short(&self.ours)
        )
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// What both runners must agree on in one journal (`None`: no journal was written).
pub fn view(journal: Option<&Value>, exit_code: i32) -> Value {
    let Some(j) = journal else {
        return json!({"journal": "none", "exit_code": exit_code});
    };
    let during: Vec<Value> = j["steady_states"]["during"]
        .as_array()
        .map(|d| d.iter().map(state).collect())
        .unwrap_or_default();
    // How many rounds of the continuous hypothesis ran is timing; what they found is
    // not (the generator keeps the hypothesis stable while the method runs).
    let mut distinct: Vec<Value> = Vec::new();
    for s in during {
        if !distinct.contains(&s) {
            distinct.push(s);
        }
    }
    json!({
        "journal": "written",
        "exit_code": exit_code,
        "status": j["status"],
        "deviated": j["deviated"],
        "experiment": {"title": j["experiment"]["title"], "dry": j["experiment"]["dry"]},
        "before": state(&j["steady_states"]["before"]),
        "after": state(&j["steady_states"]["after"]),
        "during": distinct,
        "run": runs(&j["run"]),
        "rollbacks": runs(&j["rollbacks"]),
    })
}

fn state(s: &Value) -> Value {
    if s.is_null() {
        return Value::Null;
    }
    json!({"met": s["steady_state_met"], "probes": runs(&s["probes"])})
}

/// Activity runs: in the order they were recorded (`order`), and each run's details
/// sorted by name (a stable sort: repeated names keep their relative order), so an
/// order difference is one difference, not one per field of every later run.
fn runs(list: &Value) -> Value {
    let items: Vec<&Value> = list
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let order: Vec<Value> = items
        .iter()
        .map(|r| r["activity"]["name"].clone())
        .collect();
    let mut details: Vec<Value> = items.iter().map(|r| one_run(r)).collect();
    details.sort_by_key(|d| d["name"].as_str().unwrap_or("").to_string());
    json!({"order": order, "details": details})
}

fn one_run(r: &Value) -> Value {
    let mut v = json!({
        "name": r["activity"]["name"],
        "activity": r["activity"],
        "status": r.get("status").cloned().unwrap_or(json!("<absent>")),
        "output": output(&r["output"]),
        "exception": r.get("exception").is_some_and(|e| !e.is_null()),
    });
    if let Some(t) = r.get("tolerance_met") {
        v["tolerance_met"] = t.clone();
    }
    v
}

/// An output without what must differ: an HTTP response's header values (Date,
/// Server, ...) except its Content-Type.
fn output(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(obj) = o.as_object_mut()
        && let Some(Value::Object(headers)) = obj.get("headers")
    {
        let kept: Map<String, Value> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| ("Content-Type".to_string(), v.clone()))
            .collect();
        obj.insert("headers".into(), Value::Object(kept));
    }
    o
}

/// Every leaf where the two views differ.
pub fn differences(reference: &Value, ours: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk("", reference, ours, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<Difference>) {
    if a == b {
        return;
    }
    // An order is compared whole.
    let whole = path.ends_with("/order");
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if !whole => {
            for (k, va) in x {
                walk(
                    &format!("{path}/{k}"),
                    va,
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    walk(&format!("{path}/{k}"), &Value::Null, vb, out);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if !whole && x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                walk(&format!("{path}/{i}"), va, vb, out);
            }
        }
        _ => out.push(Difference {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            reference: a.clone(),
            ours: b.clone(),
        }),
    }
}
