//! Running the steady-state hypothesis: its probes in order, each tolerance checked,
//! stopping at the first probe that fails or is out of tolerance.

use super::activity::{Abort, execute_activity};
use super::context::RunContext;
use super::tolerance::within_tolerance;
use crate::activity::Dry;
use crate::config::substitute;
use crate::hypothesis::Hypothesis;
use crate::interrupt::Cancel;
use crate::journal::{HypothesisState, RunStatus};
use crate::tolerance::Tolerance;
use serde_json::Value;

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
    use super::controls::Level;
    use crate::control::Scope;
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
            crate::python_value::py_str(&tolerance)
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
