//! Experiment validation: chaostoolkit-lib's rules, but every problem is reported at
//! once, each with its location as a JSON pointer (`/method/2/provider/url`).

use crate::config::{Vars, load_configuration, load_secrets};
use crate::drivers::Registry;
use crate::provider::process::which;
use serde_json::{Map, Value};

/// One thing wrong with an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer to the offending value ("" for the whole document).
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Non-fatal remarks (e.g. `controls` are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Checker<'a> {
    registry: &'a Registry,
    experiment: &'a Value,
    report: Report,
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn join(base: &str, token: impl std::fmt::Display) -> String {
    format!("{base}/{}", escape(&token.to_string()))
}

/// Python truthiness of an optional value.
fn truthy(v: Option<&Value>) -> bool {
    v.is_some_and(crate::pyvalue::py_truthy)
}

/// Validates `experiment`. `vars` resolve configuration and secrets the way the run
/// will (so `--var` can provide what an env entry lacks).
pub fn validate(experiment: &Value, registry: &Registry, vars: &Vars) -> Report {
    let mut c = Checker {
        registry,
        experiment,
        report: Report::default(),
    };
    c.experiment_rules(vars);
    c.report
}

impl Checker<'_> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.report.problems.push(Problem {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn experiment_rules(&mut self, vars: &Vars) {
        let Some(exp) = self.experiment.as_object() else {
            self.problem("", "an experiment must be a mapping");
            return;
        };
        if exp.is_empty() {
            self.problem("", "an empty experiment is not an experiment");
            return;
        }
        if !truthy(exp.get("title")) {
            self.problem("/title", "experiment requires a title");
        }
        if !truthy(exp.get("description")) {
            self.problem("/description", "experiment requires a description");
        }
        match exp.get("tags") {
            Some(Value::Array(tags)) => {
                for (i, t) in tags.iter().enumerate() {
                    if t.as_str().is_none_or(str::is_empty) {
                        self.problem(
                            join("/tags", i),
                            "experiment tags must be a non-empty string",
                        );
                    }
                }
            }
            Some(v) if crate::pyvalue::py_truthy(v) => self.problem(
                "/tags",
                "experiment tags must be a list of non-empty strings",
            ),
            _ => {}
        }
        if let Some(ext) = exp
            .get("extensions")
            .filter(|v| crate::pyvalue::py_truthy(v))
        {
            match ext.as_array() {
                Some(items) => {
                    for (i, e) in items.iter().enumerate() {
                        let name = e.get("name").and_then(Value::as_str).map(str::trim);
                        if name.is_none_or(str::is_empty) {
                            self.problem(
                                join("/extensions", i),
                                "All extensions require a non-empty name",
                            );
                        }
                    }
                }
                None => self.problem("/extensions", "extensions must be a list"),
            }
        }
        for (key, section) in [("configuration", "configuration"), ("secrets", "secrets")] {
            if let Some(v) = exp.get(key).filter(|v| !v.is_null() && !v.is_object()) {
                let _ = v;
                self.problem(format!("/{key}"), format!("{section} must be a mapping"));
            }
        }
        if let Err(e) = load_configuration(exp.get("configuration"), vars) {
            self.problem("/configuration", e.to_string());
        }
        if let Err(e) = load_secrets(exp.get("secrets"), vars) {
            self.problem("/secrets", e.to_string());
        }
        if exp.contains_key("controls") {
            self.report
                .warnings
                .push("controls are not supported by chaos-runner; they will be ignored".into());
        }

        self.hypothesis(exp.get("steady-state-hypothesis"));

        match exp.get("method") {
            None | Some(Value::Null) => self.problem(
                "/method",
                "an experiment requires a method, which can be empty for only checking steady state hypothesis",
            ),
            Some(Value::Array(method)) => {
                for (i, a) in method.iter().enumerate() {
                    let at = join("/method", i);
                    self.activity(a, &at);
                    self.reference(a, &at);
                }
            }
            Some(_) => self.problem("/method", "the method must be a list of activities"),
        }
        match exp.get("rollbacks") {
            None | Some(Value::Null) => {}
            Some(Value::Array(rollbacks)) => {
                for (i, a) in rollbacks.iter().enumerate() {
                    let at = join("/rollbacks", i);
                    self.activity(a, &at);
                    self.reference(a, &at);
                }
            }
            Some(_) => self.problem("/rollbacks", "rollbacks must be a list of activities"),
        }
    }

    /// A `ref` must name a method activity or a hypothesis probe.
    fn reference(&mut self, activity: &Value, at: &str) {
        if let Some(r) = activity
            .get("ref")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            && crate::activity::lookup_activity(self.experiment, r).is_none()
        {
            self.problem(
                join(at, "ref"),
                format!("referenced activity '{r}' could not be found in the experiment"),
            );
        }
    }

    fn hypothesis(&mut self, hypo: Option<&Value>) {
        let Some(hypo) = hypo.filter(|h| !h.is_null()) else {
            return;
        };
        let base = "/steady-state-hypothesis";
        let Some(h) = hypo.as_object() else {
            self.problem(base, "the steady-state hypothesis must be a mapping");
            return;
        };
        if !truthy(h.get("title")) {
            self.problem(join(base, "title"), "hypothesis requires a title");
        }
        match h.get("probes") {
            Some(Value::Array(probes)) => {
                for (i, p) in probes.iter().enumerate() {
                    let at = join(&join(base, "probes"), i);
                    self.activity(p, &at);
                    self.reference(p, &at);
                    match p.get("tolerance") {
                        None => {
                            self.problem(at.clone(), "hypothesis probe must have a tolerance entry")
                        }
                        Some(t) => self.tolerance(t, &join(&at, "tolerance")),
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => self.problem(join(base, "probes"), "hypothesis probes must be a list"),
        }
    }

    fn tolerance(&mut self, t: &Value, at: &str) {
        match t {
            Value::Bool(_) | Value::String(_) | Value::Array(_) => {}
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
                Some("probe") => self.activity(t, at),
                Some("regex") => match obj.get("pattern") {
                    None => self.problem(at, "hypothesis regex probe tolerance must have a `pattern` key"),
                    Some(Value::String(p)) => {
                        // A `${...}` pattern is resolved at run time.
                        if !p.contains('$')
                            && let Err(e) = regex::Regex::new(p)
                        {
                            self.problem(
                                join(at, "pattern"),
                                format!("hypothesis probe tolerance pattern {p} seems invalid: {e}"),
                            );
                        }
                    }
                    Some(other) => self.problem(
                        join(at, "pattern"),
                        format!("hypothesis probe tolerance pattern {other} has an invalid type"),
                    ),
                },
                Some("jsonpath") => match obj.get("path") {
                    None => self.problem(at, "hypothesis jsonpath probe tolerance must have a `path` key"),
                    Some(Value::String(p)) if p.trim().is_empty() => self.problem(
                        join(at, "path"),
                        "hypothesis probe tolerance JSON path cannot be empty",
                    ),
                    Some(Value::String(p)) => {
                        if !p.contains("${")
                            && let Err(e) = crate::tolerance::compile_jsonpath(p)
                        {
                            self.problem(join(at, "path"), format!("hypothesis probe tolerance {e}"));
                        }
                    }
                    Some(other) => self.problem(
                        join(at, "path"),
                        format!("hypothesis probe tolerance JSON path {other} has an invalid type"),
                    ),
                },
                Some("range") => match obj.get("range") {
                    None => self.problem(at, "hypothesis range probe tolerance must have a `range` key"),
                    Some(Value::Array(r)) if r.len() != 2 => self.problem(
                        join(at, "range"),
                        "hypothesis range sequence must be made of two values",
                    ),
                    Some(Value::Array(r)) => {
                        if !r[0].is_number() {
                            self.problem(join(&join(at, "range"), 0), "hypothesis range lower boundary must be a number");
                        }
                        if !r[1].is_number() {
                            self.problem(join(&join(at, "range"), 1), "hypothesis range upper boundary must be a number");
                        }
                    }
                    Some(_) => self.problem(join(at, "range"), "hypothesis range must be a sequence"),
                },
                other => self.problem(
                    join(at, "type"),
                    format!(
                        "hypothesis probe tolerance type '{}' is unsupported",
                        other.map_or_else(|| "None".to_string(), str::to_string)
                    ),
                ),
            },
            _ => self.problem(
                at,
                "hypothesis probe tolerance must either be an integer, a string, a boolean or a pair of values for boundaries. It can also be a dictionary which is a probe activity definition that takes an argument called `value` with the value of the probe itself to be validated",
            ),
        }
    }

    fn activity(&mut self, activity: &Value, at: &str) {
        let Some(a) = activity.as_object() else {
            self.problem(at, "an activity must be a mapping");
            return;
        };
        if a.is_empty() {
            self.problem(at, "empty activity is no activity");
            return;
        }
        if let Some(r) = a.get("ref").filter(|r| !r.is_null()) {
            if r.as_str().is_none_or(str::is_empty) {
                self.problem(
                    join(at, "ref"),
                    "reference to activity must be non-empty strings",
                );
            }
            return;
        }
        match a.get("type") {
            v if !truthy(v) => self.problem(join(at, "type"), "an activity must have a type"),
            Some(Value::String(t)) if t == "probe" || t == "action" => {}
            Some(t) => self.problem(
                join(at, "type"),
                format!(
                    "'{}' is not a supported activity type",
                    crate::pyvalue::py_str(t)
                ),
            ),
            None => {}
        }
        let name = a
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !truthy(a.get("name")) {
            self.problem(join(at, "name"), "an activity must have a name");
        }
        if let Some(t) = a.get("timeout").filter(|t| !t.is_null())
            && !t.is_number()
        {
            self.problem(join(at, "timeout"), "activity timeout must be a number");
        }
        if let Some(pauses) = a.get("pauses").filter(|p| !p.is_null()) {
            match pauses.as_object() {
                Some(p) => {
                    for key in ["before", "after"] {
                        match p.get(key) {
                            None | Some(Value::Null) | Some(Value::Number(_)) => {}
                            Some(Value::String(s)) if s.starts_with("${") && s.ends_with('}') => {}
                            Some(_) => self.problem(
                                join(&join(at, "pauses"), key),
                                format!(
                                    "activity {key} pause must be a number or a pattern to a variable from the configuration or secrets"
                                ),
                            ),
                        }
                    }
                }
                None => self.problem(join(at, "pauses"), "activity pauses must be a mapping"),
            }
        }
        if let Some(bg) = a.get("background")
            && !bg.is_boolean()
        {
            self.problem(
                join(at, "background"),
                "activity background must be a boolean",
            );
        }
        let provider_at = join(at, "provider");
        let Some(provider) = a.get("provider").filter(|p| crate::pyvalue::py_truthy(p)) else {
            self.problem(provider_at, "an activity requires a provider");
            return;
        };
        let Some(provider) = provider.as_object() else {
            self.problem(provider_at, "a provider must be a mapping");
            return;
        };
        match provider.get("type").and_then(Value::as_str) {
            None | Some("") => {
                self.problem(join(&provider_at, "type"), "a provider must have a type")
            }
            Some("python") => self.python(provider, &provider_at, &name, a),
            Some("process") => self.process(provider, &provider_at, &name),
            Some("http") => self.http(provider, &provider_at),
            Some(other) => self.problem(
                join(&provider_at, "type"),
                format!("unknown provider type '{other}'"),
            ),
        }
    }

    fn http(&mut self, p: &Map<String, Value>, at: &str) {
        if !truthy(p.get("url")) {
            self.problem(join(at, "url"), "a HTTP activity must have a URL");
        }
        if let Some(h) = p.get("headers")
            && crate::pyvalue::py_truthy(h)
            && !h.is_object()
        {
            self.problem(
                join(at, "headers"),
                "a HTTP activities expect headers as a mapping",
            );
        }
        if let Some(t) = p.get("timeout").filter(|t| !t.is_null()) {
            let ok = match t {
                Value::Number(_) => true,
                Value::String(s) => s.starts_with("${") && s.ends_with('}'),
                Value::Array(pair) => pair.len() == 2 && pair.iter().all(Value::is_number),
                _ => false,
            };
            if !ok {
                self.problem(
                    join(at, "timeout"),
                    "a HTTP timeout must be a number or a [connect, read] pair",
                );
            }
        }
        if let Some(es) = p.get("expected_status").filter(|v| !v.is_null()) {
            let is_status = |v: &Value| v.as_u64().is_some_and(|n| (100..=599).contains(&n));
            let ok = is_status(es)
                || es
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(is_status));
            if !ok {
                self.problem(
                    join(at, "expected_status"),
                    "expected_status must be an HTTP status or a list of them",
                );
            }
        }
        if let Some(m) = p.get("method")
            && !m.is_string()
        {
            self.problem(join(at, "method"), "a HTTP method must be a string");
        }
    }

    fn process(&mut self, p: &Map<String, Value>, at: &str, name: &str) {
        let path = p.get("path").and_then(Value::as_str).unwrap_or("");
        if path.is_empty() {
            self.problem(join(at, "path"), "a process activity must have a path");
            return;
        }
        if which(path).is_none() {
            self.problem(
                join(at, "path"),
                format!("path '{path}' cannot be found, in activity '{name}'"),
            );
        }
        if let Some(t) = p.get("timeout").filter(|t| !t.is_null())
            && !t.is_number()
        {
            self.problem(join(at, "timeout"), "a process timeout must be a number");
        }
        if let Some(env) = p.get("env").filter(|e| !e.is_null())
            && !env.is_object()
        {
            self.problem(join(at, "env"), "a process env must be a mapping");
        }
    }

    fn python(
        &mut self,
        p: &Map<String, Value>,
        at: &str,
        name: &str,
        activity: &Map<String, Value>,
    ) {
        let module = p.get("module").and_then(Value::as_str).unwrap_or("");
        let func = p.get("func").and_then(Value::as_str).unwrap_or("");
        if module.is_empty() {
            self.problem(
                join(at, "module"),
                "a Python activity must have a module path",
            );
        }
        if func.is_empty() {
            self.problem(
                join(at, "func"),
                "a Python activity must have a function name",
            );
        }
        if module.is_empty() || func.is_empty() {
            return;
        }
        if !self.registry.has_module(module) {
            self.problem(
                join(at, "module"),
                format!(
                    "could not find Python module '{module}' in activity '{name}' ({})",
                    self.registry.unknown_message(module, func)
                ),
            );
            return;
        }
        let Some((_, spec)) = self.registry.lookup(module, func) else {
            let kind = activity
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("activity");
            self.problem(
                join(at, "func"),
                format!(
                    "The python module '{module}' does not expose a function called '{func}' in {kind} '{name}' ({})",
                    self.registry.unknown_message(module, func)
                ),
            );
            return;
        };
        let args = match p.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                self.problem(
                    join(at, "arguments"),
                    "python provider arguments must be a mapping",
                );
                return;
            }
        };
        for required in spec.arguments.iter().filter(|a| a.required) {
            if matches!(required.name.as_str(), "configuration" | "secrets") {
                continue;
            }
            if !args.contains_key(&required.name) {
                self.problem(
                    join(at, "arguments"),
                    format!(
                        "required argument '{}' is missing from activity '{name}'",
                        required.name
                    ),
                );
            }
        }
        for key in args.keys() {
            if !spec.arguments.iter().any(|a| &a.name == key) {
                self.problem(
                    join(&join(at, "arguments"), key),
                    format!(
                        "argument {key} is not part of the function signature in activity '{name}'"
                    ),
                );
            }
        }
    }
}
