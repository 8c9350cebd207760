//! The steady-state hypothesis: run its probes in order and check each tolerance,
//! stopping at the first probe that fails or is out of tolerance.

use crate::activity::{Abort, Dry, Entry, RunContext, execute_activity};
use crate::config::substitute;
use crate::interrupt::Cancel;
use crate::journal::{HypothesisState, RunStatus};
use crate::tolerance::{Tolerance, within_tolerance};
use serde_json::Value;

/// When hypotheses run relative to the method (`--hypothesis-strategy`, or the
/// experiment's `runtime.hypothesis.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    Default,
    BeforeMethodOnly,
    AfterMethodOnly,
    DuringMethodOnly,
    // The reference also accepts its historical misspelling (a plain comment: a doc
    // comment would become `--help` text).
    #[value(alias = "continously")]
    Continuously,
}

impl Strategy {
    /// The name the reference logs ("Steady-state strategy: ...").
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Default => "default",
            Strategy::BeforeMethodOnly => "before-method-only",
            Strategy::AfterMethodOnly => "after-method-only",
            Strategy::DuringMethodOnly => "during-method-only",
            Strategy::Continuously => "continuous",
        }
    }

    pub fn before(self) -> bool {
        matches!(
            self,
            Strategy::BeforeMethodOnly | Strategy::Default | Strategy::Continuously
        )
    }

    pub fn after(self) -> bool {
        matches!(
            self,
            Strategy::AfterMethodOnly | Strategy::Default | Strategy::Continuously
        )
    }

    pub fn during(self) -> bool {
        matches!(self, Strategy::DuringMethodOnly | Strategy::Continuously)
    }
}

/// The steady-state hypothesis, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// As Python prints the `title`.
    pub title: String,
    pub probes: Vec<Entry>,
    /// As written (what its controls receive as context).
    pub written: Value,
    pub controls: Vec<crate::control::Declared>,
}

impl Hypothesis {
    /// `None` unless `value` is a non-empty mapping (the reference runs none then).
    pub fn from_value(value: &Value) -> Option<Hypothesis> {
        let h = value.as_object().filter(|o| !o.is_empty())?;
        Some(Hypothesis {
            title: h
                .get("title")
                .map(crate::pyvalue::py_str)
                .unwrap_or_default(),
            probes: crate::experiment::entries(h.get("probes")),
            written: value.clone(),
            controls: crate::control::declared(h.get("controls")),
        })
    }
}

/// Runs the hypothesis once, its controls' hooks around it. `Ok(None)` when the
/// experiment declares none.
pub fn run_steady_state_hypothesis(
    ctx: &RunContext,
    cancel: &Cancel,
) -> Result<Option<HypothesisState>, Abort> {
    let Some(hypo) = &ctx.experiment.hypothesis else {
        tracing::debug!("No hypothesis declared.");
        return Ok(None);
    };
    let controls = &ctx.controls;
    if !controls.applies(&hypo.controls) {
        return run_probes(hypo, ctx, cancel);
    }
    use crate::control::{Level, Scope};
    controls.apply(
        Level::Hypothesis,
        Scope::Before,
        &hypo.written,
        &hypo.controls,
        &Value::Null,
        ctx,
    );
    if controls.interruption().is_some() {
        return Err(Abort::Interrupted);
    }
    let result = run_probes(hypo, ctx, cancel);
    let state = match &result {
        Ok(Some(state)) => serde_json::to_value(state).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    controls.apply(
        Level::Hypothesis,
        Scope::After,
        &hypo.written,
        &hypo.controls,
        &state,
        ctx,
    );
    result
}

fn run_probes(
    hypo: &Hypothesis,
    ctx: &RunContext,
    cancel: &Cancel,
) -> Result<Option<HypothesisState>, Abort> {
    tracing::info!("Steady state hypothesis: {}", hypo.title);
    let mut state = HypothesisState {
        steady_state_met: None,
        probes: Vec::new(),
    };
    for probe in &hypo.probes {
        let mut run = execute_activity(probe, ctx, cancel, None)?;
        if run.status == Some(RunStatus::Failed) {
            run.tolerance_met = Some(false);
            state.probes.push(run);
            state.steady_state_met = Some(false);
            tracing::warn!(
                "Probe terminated unexpectedly, so its tolerance could not be validated"
            );
            return Ok(Some(state));
        }
        run.tolerance_met = Some(true);
        if matches!(ctx.dry, Some(Dry::Probes) | Some(Dry::Activities)) {
            // Nothing ran, so there is nothing to check.
            state.probes.push(run);
            continue;
        }
        // The hypothesis entry's own tolerance (a `ref` probe carries its own).
        let mut tolerance = probe
            .as_ref()
            .ok()
            .and_then(|p| p.tolerance.clone())
            .unwrap_or(Value::Null);
        if tolerance.is_string() {
            tolerance = substitute(&tolerance, &ctx.configuration, &ctx.secrets);
        }
        tracing::debug!(
            "allowed tolerance is {}",
            crate::pyvalue::py_str(&tolerance)
        );
        let tolerance = Tolerance::from_value(&tolerance);
        let checked = match within_tolerance(&tolerance, &run.output, &ctx.provider(cancel)) {
            Ok(met) => met,
            Err(e) => {
                tracing::error!(
                    "Cannot check the tolerance of probe '{}': {}",
                    name_of(&run.activity),
                    e
                );
                false
            }
        };
        if !checked {
            run.tolerance_met = Some(false);
            state.probes.push(run);
            state.steady_state_met = Some(false);
            return Ok(Some(state));
        }
        state.probes.push(run);
    }
    state.steady_state_met = Some(true);
    tracing::info!("Steady state hypothesis is met!");
    Ok(Some(state))
}

fn name_of(activity: &Value) -> String {
    activity
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The name of the probe that broke the hypothesis (the last one run).
pub fn last_probe_name(state: &HypothesisState) -> String {
    state
        .probes
        .last()
        .map(|p| name_of(&p.activity))
        .unwrap_or_default()
}
