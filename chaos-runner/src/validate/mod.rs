//! Experiment validation: chaostoolkit-lib's rules, but every problem is reported at
//! once, each with its location as a JSON pointer (`/method/2/provider/url`). This
//! module holds the experiment-level rules; [`activity`], [`provider`], [`tolerance`]
//! and [`control`] the rules of each part.

pub mod activity;
pub mod control;
pub mod provider;
pub mod tolerance;

use crate::activity::Activity;
use crate::config::{Vars, load_configuration, load_secrets};
use crate::diagnostics::{Problems, Report, pointer};
use crate::drivers::Registry;
use crate::experiment::Experiment;
use crate::python_value::{py_str, py_truthy};
use clap::ValueEnum;
use serde_json::Value;

struct Checker<'a> {
    registry: &'a Registry,
    experiment: &'a Value,
    /// The experiment read, for `ref` lookups.
    read: Experiment,
    problems: Problems,
    warnings: Vec<String>,
}

/// Validates `experiment`. `vars` resolve configuration and secrets the way the run
/// will (so `--var` can provide what an env entry lacks).
pub fn validate(experiment: &Value, registry: &Registry, vars: &Vars) -> Report {
    let mut c = Checker {
        registry,
        experiment,
        read: Experiment::from_value(experiment),
        problems: Problems::default(),
        warnings: Vec::new(),
    };
    c.experiment_rules(vars);
    let (problems, found) = c.problems.into_parts();
    let mut warnings = c.warnings;
    warnings.extend(found);
    Report { problems, warnings }
}

impl Checker<'_> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.add(pointer, message);
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
        if !exp.get("title").is_some_and(py_truthy) {
            self.problem("/title", "experiment requires a title");
        }
        if !exp.get("description").is_some_and(py_truthy) {
            self.problem("/description", "experiment requires a description");
        }
        match exp.get("tags") {
            Some(Value::Array(tags)) => {
                for (i, t) in tags.iter().enumerate() {
                    if t.as_str().is_none_or(str::is_empty) {
                        self.problem(
                            pointer("/tags", i),
                            "experiment tags must be a non-empty string",
                        );
                    }
                }
            }
            Some(v) if py_truthy(v) => self.problem(
                "/tags",
                "experiment tags must be a list of non-empty strings",
            ),
            _ => {}
        }
        if let Some(ext) = exp.get("extensions").filter(|v| py_truthy(v)) {
            match ext.as_array() {
                Some(items) => {
                    for (i, e) in items.iter().enumerate() {
                        let name = e.get("name").and_then(Value::as_str).map(str::trim);
                        if name.is_none_or(str::is_empty) {
                            self.problem(
                                pointer("/extensions", i),
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
        for (name, used) in crate::config::vault_secrets(self.experiment) {
            let at = format!("/secrets/{}", name.replace('.', "/"));
            match used {
                Some(by) => self.problem(
                    at,
                    format!("secret '{name}' comes from Vault, which chaos-runner cannot read (only static values and env), and is used by {by}"),
                ),
                None => self.warnings.push(format!(
                    "{at}: secret '{name}' comes from Vault, which chaos-runner cannot read; nothing uses it, so it is left out"
                )),
            }
        }
        self.hypothesis(exp.get("steady-state-hypothesis"));

        match exp.get("method") {
            None | Some(Value::Null) => self.problem(
                "/method",
                "an experiment requires a method, which can be empty for only checking steady state hypothesis",
            ),
            Some(Value::Array(method)) => {
                for (i, a) in method.iter().enumerate() {
                    let at = pointer("/method", i);
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
                    let at = pointer("/rollbacks", i);
                    self.activity(a, &at);
                    self.reference(a, &at);
                }
            }
            Some(_) => self.problem("/rollbacks", "rollbacks must be a list of activities"),
        }
        self.controls();
        self.runtime(exp.get("runtime"));
        self.contributions(exp.get("contributions"));
    }

    /// chaostoolkit 1.21's `runtime` block: the strategies it names must be ones the
    /// command line takes; keys chaos-runner does not use are named, never dropped
    /// silently (the journal keeps the block as written either way).
    fn runtime(&mut self, runtime: Option<&Value>) {
        let Some(runtime) = runtime.filter(|r| !r.is_null()) else {
            return;
        };
        let Some(map) = runtime.as_object() else {
            self.problem("/runtime", "runtime must be a mapping");
            return;
        };
        for (section, value) in map {
            let at = pointer("/runtime", section);
            let valid: fn(&str) -> bool = match section.as_str() {
                "hypothesis" => |s| crate::strategy::Strategy::from_str(s, false).is_ok(),
                "rollbacks" => |s| crate::strategy::RollbackStrategy::from_str(s, false).is_ok(),
                _ => {
                    self.warnings
                        .push(format!("{at}: not used by chaos-runner"));
                    continue;
                }
            };
            let Some(fields) = value.as_object() else {
                self.problem(at, format!("runtime.{section} must be a mapping"));
                continue;
            };
            for (key, v) in fields {
                let field_at = pointer(&at, key);
                if key != "strategy" {
                    self.warnings
                        .push(format!("{field_at}: not used by chaos-runner"));
                } else if !v.as_str().is_some_and(valid) {
                    self.problem(
                        field_at,
                        format!("unknown {section} strategy {}", py_str(v)),
                    );
                }
            }
        }
    }

    /// `contributions`: a mapping of names to `none`, `low`, `medium` or `high` (the
    /// Chaos Toolkit's format). The reference does not check them, so neither refuses
    /// the experiment here: a wrong one is a warning.
    fn contributions(&mut self, contributions: Option<&Value>) {
        let Some(c) = contributions.filter(|c| !c.is_null()) else {
            return;
        };
        let Some(map) = c.as_object() else {
            self.warnings
                .push("/contributions: should be a mapping of names to levels".into());
            return;
        };
        for (name, level) in map {
            if !matches!(level.as_str(), Some("none" | "low" | "medium" | "high")) {
                self.warnings.push(format!(
                    "{}: a contribution is one of none, low, medium, high",
                    pointer("/contributions", name)
                ));
            }
        }
    }

    /// chaoslib's rules for every `controls` list, and whether each control can be run
    /// (a problem, unless unrunnable controls are to be skipped).
    fn controls(&mut self) {
        let exp = self.experiment;
        let mut lists: Vec<(String, &Value)> = Vec::new();
        if let Some(c) = exp.get("controls") {
            lists.push(("/controls".into(), c));
        }
        let hypo = exp.get("steady-state-hypothesis");
        if let Some(c) = hypo.and_then(|h| h.get("controls")) {
            lists.push(("/steady-state-hypothesis/controls".into(), c));
        }
        let activities = [
            (
                "/steady-state-hypothesis/probes",
                hypo.and_then(|h| h.get("probes")),
            ),
            ("/method", exp.get("method")),
            ("/rollbacks", exp.get("rollbacks")),
        ];
        for (base, list) in activities {
            for (i, a) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(c) = a.get("controls") {
                    lists.push((pointer(&pointer(base, i), "controls"), c));
                }
            }
        }
        let top: Vec<String> = exp
            .get("controls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.get("ref").is_none())
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let mut checked: Vec<String> = Vec::new();
        for (at, list) in lists {
            control::validate_list(list, &at, &top, &mut self.problems);
            for (i, declared) in list.as_array().into_iter().flatten().enumerate() {
                if declared.get("ref").is_some() {
                    continue;
                }
                let Some(control) = crate::control::Control::from_value(declared, None) else {
                    continue;
                };
                let at = pointer(&at, i);
                if let crate::control::ControlKind::Safeguards { probes } = &control.kind {
                    self.safeguard_probes(probes, &format!("{at}/provider/arguments/probes"));
                }
                if checked.contains(&control.name) {
                    continue;
                }
                checked.push(control.name.clone());
                if let Err(why) = control::check_runnable(&control, self.registry.bridge()) {
                    if self.registry.skips_unrunnable_controls() {
                        self.problems
                            .warn(format!("{at}: {why}; it will be skipped"));
                    } else {
                        self.problem(
                            format!("{at}/provider/module"),
                            format!(
                                "{why} (--skip-unrunnable-controls runs the experiment without it)"
                            ),
                        );
                    }
                }
            }
        }
    }

    /// A safeguard's probes: valid probes with a tolerance, a `frequency` in range.
    fn safeguard_probes(&mut self, probes: &[Value], at: &str) {
        for (i, probe) in probes.iter().enumerate() {
            let at = pointer(at, i);
            self.activity(probe, &at);
            match probe.get("tolerance") {
                None => self.problem(at.clone(), "a safeguard probe must have a tolerance"),
                Some(t) => tolerance::validate(
                    t,
                    &pointer(&at, "tolerance"),
                    self.registry,
                    &mut self.problems,
                ),
            }
            if let Some(f) = probe.get("frequency")
                && let Some(why) = crate::duration::problem(f, "frequency")
            {
                self.problem(pointer(&at, "frequency"), why);
            }
        }
    }

    /// A `ref` must name a method activity or a hypothesis probe.
    fn reference(&mut self, activity: &Value, at: &str) {
        if let Some(r) = activity
            .get("ref")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            && self.read.lookup(r).is_none()
        {
            self.problem(
                pointer(at, "ref"),
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
        if !h.get("title").is_some_and(py_truthy) {
            self.problem(pointer(base, "title"), "hypothesis requires a title");
        }
        match h.get("probes") {
            Some(Value::Array(probes)) => {
                for (i, p) in probes.iter().enumerate() {
                    let at = pointer(&pointer(base, "probes"), i);
                    self.activity(p, &at);
                    self.reference(p, &at);
                    match p.get("tolerance") {
                        None => {
                            self.problem(at.clone(), "hypothesis probe must have a tolerance entry")
                        }
                        Some(t) => tolerance::validate(
                            t,
                            &pointer(&at, "tolerance"),
                            self.registry,
                            &mut self.problems,
                        ),
                    }
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => self.problem(pointer(base, "probes"), "hypothesis probes must be a list"),
        }
    }

    fn activity(&mut self, activity: &Value, at: &str) {
        Activity::validate(activity, at, self.registry, &mut self.problems);
    }
}
