//! Experiment validation: chaostoolkit-lib's rules, but every problem is reported at
//! once, each with its location as a JSON pointer (`/method/2/provider/url`). This
//! module holds the experiment-level rules; [`activity`], [`provider`], [`tolerance`]
//! and [`control`] the rules of each part.

pub mod activity;
pub mod control;
pub mod provider;
pub mod tolerance;

use crate::activity::Entry;
use crate::config::{Vars, load_configuration, load_secrets};
use crate::control::{ControlKind, ControlList};
use crate::diagnostics::{Problems, Report, pointer};
use crate::drivers::Registry;
use crate::experiment::{Experiment, Shape};
use crate::python_value::{py_str, py_truthy};
use crate::tolerance::Tolerance;
use clap::ValueEnum;
use serde_json::Value;

struct Checker<'a> {
    registry: &'a Registry,
    experiment: &'a Experiment,
    problems: Problems,
    warnings: Vec<String>,
}

/// Validates `experiment`. `vars` resolve configuration and secrets the way the run
/// will (so `--var` can provide what an env entry lacks).
pub fn validate(experiment: &Experiment, registry: &Registry, vars: &Vars) -> Report {
    let mut c = Checker {
        registry,
        experiment,
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
        let exp = self.experiment;
        match exp.shape {
            Shape::Mapping { empty: false } => {}
            Shape::Mapping { empty: true } => {
                self.problem("", "an empty experiment is not an experiment");
                return;
            }
            _ => {
                self.problem("", "an experiment must be a mapping");
                return;
            }
        }
        if !exp.title.as_ref().is_some_and(py_truthy) {
            self.problem("/title", "experiment requires a title");
        }
        if !exp.description.as_ref().is_some_and(py_truthy) {
            self.problem("/description", "experiment requires a description");
        }
        match &exp.tags {
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
        if exp.extensions.as_ref().is_some_and(py_truthy) {
            if exp.extensions.as_ref().is_some_and(Value::is_array) {
                for (i, name) in exp.extension_names.iter().enumerate() {
                    if name.as_deref().is_none_or(str::is_empty) {
                        self.problem(
                            pointer("/extensions", i),
                            "All extensions require a non-empty name",
                        );
                    }
                }
            } else {
                self.problem("/extensions", "extensions must be a list");
            }
        }
        for (key, section) in [
            ("configuration", &exp.configuration),
            ("secrets", &exp.secrets),
        ] {
            if section
                .as_ref()
                .is_some_and(|v| !v.is_null() && !v.is_object())
            {
                self.problem(format!("/{key}"), format!("{key} must be a mapping"));
            }
        }
        if let Err(e) = load_configuration(exp.configuration.as_ref(), vars) {
            self.problem("/configuration", e.to_string());
        }
        if let Err(e) = load_secrets(exp.secrets.as_ref(), vars) {
            self.problem("/secrets", e.to_string());
        }
        for (name, used) in crate::config::vault_secrets(exp) {
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
        self.hypothesis();

        match exp.method_shape {
            Shape::Missing => self.problem(
                "/method",
                "an experiment requires a method, which can be empty for only checking steady state hypothesis",
            ),
            Shape::List => {
                for (i, a) in exp.method.iter().enumerate() {
                    let at = pointer("/method", i);
                    self.activity(a, &at);
                    self.reference(a, &at);
                }
            }
            _ => self.problem("/method", "the method must be a list of activities"),
        }
        match exp.rollbacks_shape {
            Shape::Missing => {}
            Shape::List => {
                for (i, a) in exp.rollbacks.iter().enumerate() {
                    let at = pointer("/rollbacks", i);
                    self.activity(a, &at);
                    self.reference(a, &at);
                }
            }
            _ => self.problem("/rollbacks", "rollbacks must be a list of activities"),
        }
        self.controls();
        self.runtime(exp.runtime.as_ref());
        self.contributions(exp.contributions.as_ref());
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

    /// chaoslib's rules for every `controls` list, and whether each can be run
    /// (a problem, unless unrunnable controls are to be skipped).
    fn controls(&mut self) {
        let exp = self.experiment;
        let mut lists: Vec<(String, &ControlList)> = Vec::new();
        if let Some(c) = &exp.control_list {
            lists.push(("/controls".into(), c));
        }
        let hypothesis = exp.hypothesis.as_ref();
        if let Some(c) = hypothesis.and_then(|h| h.control_list.as_ref()) {
            lists.push(("/steady-state-hypothesis/controls".into(), c));
        }
        let no_probes = Vec::new();
        let activities = [
            (
                "/steady-state-hypothesis/probes",
                hypothesis.map_or(&no_probes, |h| &h.probes),
            ),
            ("/method", &exp.method),
            ("/rollbacks", &exp.rollbacks),
        ];
        for (base, list) in activities {
            for (i, a) in list.iter().enumerate() {
                if let Some(c) = a.as_ref().ok().and_then(|a| a.fields.controls.as_ref()) {
                    lists.push((pointer(&pointer(base, i), "controls"), c));
                }
            }
        }
        let mut checked: Vec<String> = Vec::new();
        for (at, list) in lists {
            control::validate_list(list, &at, &exp.control_names, &mut self.problems);
            for (i, control) in list.inline() {
                let at = pointer(&at, i);
                if let ControlKind::Safeguards { probes } = &control.kind {
                    self.safeguard_probes(probes, &format!("{at}/provider/arguments/probes"));
                }
                if checked.contains(&control.name) {
                    continue;
                }
                checked.push(control.name.clone());
                if let Err(why) = control::check_runnable(control, self.registry.bridge()) {
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
    fn safeguard_probes(&mut self, probes: &[Entry], at: &str) {
        for (i, probe) in probes.iter().enumerate() {
            let at = pointer(at, i);
            self.activity(probe, &at);
            let probe = probe.as_ref().ok();
            match probe.and_then(|p| p.tolerance.as_ref()) {
                None => self.problem(at.clone(), "a safeguard probe must have a tolerance"),
                Some(t) => tolerance::validate(
                    &Tolerance::from_value(t),
                    &pointer(&at, "tolerance"),
                    self.registry,
                    &mut self.problems,
                ),
            }
            if let Some(f) = probe.and_then(|p| p.fields.frequency.as_ref())
                && let Some(why) = crate::duration::problem(f, "frequency")
            {
                self.problem(pointer(&at, "frequency"), why);
            }
        }
    }

    /// A `ref` must name a method activity or a hypothesis probe.
    fn reference(&mut self, activity: &Entry, at: &str) {
        if let Ok(activity) = activity
            && let Some(r) = &activity.reference
            && self.experiment.lookup(r).is_none()
        {
            self.problem(
                pointer(at, "ref"),
                format!("referenced activity '{r}' could not be found in the experiment"),
            );
        }
    }

    fn hypothesis(&mut self) {
        let base = "/steady-state-hypothesis";
        let hypothesis = match self.experiment.hypothesis_shape {
            Shape::Missing => return,
            Shape::Mapping { empty: true } => None,
            Shape::Mapping { empty: false } => self.experiment.hypothesis.as_ref(),
            _ => {
                self.problem(base, "the steady-state hypothesis must be a mapping");
                return;
            }
        };
        if !hypothesis
            .and_then(|h| h.title_written.as_ref())
            .is_some_and(py_truthy)
        {
            self.problem(pointer(base, "title"), "hypothesis requires a title");
        }
        let Some(hypothesis) = hypothesis else {
            return;
        };
        match hypothesis.probes_shape {
            Shape::List => {
                for (i, p) in hypothesis.probes.iter().enumerate() {
                    let at = pointer(&pointer(base, "probes"), i);
                    self.activity(p, &at);
                    self.reference(p, &at);
                    match p.as_ref().ok().and_then(|p| p.tolerance.as_ref()) {
                        None => {
                            self.problem(at.clone(), "hypothesis probe must have a tolerance entry")
                        }
                        Some(t) => tolerance::validate(
                            &Tolerance::from_value(t),
                            &pointer(&at, "tolerance"),
                            self.registry,
                            &mut self.problems,
                        ),
                    }
                }
            }
            Shape::Missing => {}
            _ => self.problem(pointer(base, "probes"), "hypothesis probes must be a list"),
        }
    }

    fn activity(&mut self, activity: &Entry, at: &str) {
        match activity {
            Ok(activity) => activity.validate(at, self.registry, &mut self.problems),
            Err(_) => self.problems.add(at, "an activity must be a mapping"),
        }
    }
}
