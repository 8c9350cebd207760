//! The phases between the controls' start and the rollbacks: the hypothesis before the
//! method, the method (with the continuous hypothesis beside it), the hypothesis after.

use super::RunOptions;
use super::activity::Abort;
use super::context::RunContext;
use super::continuous::spawn_continuous;
use super::handle::{RunHandle, StopReason};
use super::hypothesis::{last_probe_name, run_steady_state_hypothesis};
use super::method::run_method;
use crate::critical;
use crate::journal::{HypothesisState, RunStatus, Status};
use crate::strategy::Strategy;
use std::sync::Arc;

/// Where the phases left the run.
pub(super) struct Phases {
    pub(super) status: Option<Status>,
    pub(super) deviated: bool,
    /// The probe that broke the hypothesis before the method, if it did.
    pub(super) before_not_met: Option<String>,
}

impl Phases {
    pub(super) fn ended(status: Status) -> Self {
        Phases {
            status: Some(status),
            deviated: false,
            before_not_met: None,
        }
    }
}

/// Hypothesis before, method, hypothesis after.
pub(super) fn run_phases(
    ctx: &Arc<RunContext>,
    run: &RunHandle,
    strategy: Strategy,
    has_hypothesis: bool,
    options: &RunOptions,
) -> Result<Phases, Abort> {
    let cancel = run.cancel();
    let journal = run.journal();
    if has_hypothesis && strategy.before() {
        tracing::debug!("Running steady-state hypothesis before the method");
        let state = run_steady_state_hypothesis(ctx, cancel)?;
        journal.record(|j| j.steady_states.before = state.clone());
        if let Some(state) = state.filter(|s| s.steady_state_met != Some(true)) {
            let probe = last_probe_name(&state);
            log_not_met(&probe);
            return Ok(Phases {
                status: Some(status_from(&state)),
                deviated: false,
                before_not_met: Some(probe),
            });
        }
    }

    let continuous = (has_hypothesis && strategy.during())
        .then(|| spawn_continuous(ctx.clone(), run.clone(), options));
    let method = run_method(ctx, run);
    if let Some((stop, handle)) = continuous {
        let _ = stop.send(());
        if let Err(panic) = handle.join() {
            // A thread's panic fails the run, in the journal and the log, never silently.
            run.stop(StopReason::Aborted);
            critical!(
                "the continuous steady-state hypothesis failed unexpectedly: {}",
                crate::panic::message(&panic)
            );
        }
    }
    let method_ran = method?;

    let mut phases = Phases {
        status: run.stop_reason().map(StopReason::status),
        deviated: false,
        before_not_met: None,
    };
    if !matches!(
        phases.status,
        Some(Status::Interrupted) | Some(Status::Aborted)
    ) && has_hypothesis
        && method_ran
        && strategy.after()
    {
        tracing::debug!("Running steady-state hypothesis after the method");
        let state = run_steady_state_hypothesis(ctx, cancel)?;
        journal.record(|j| j.steady_states.after = state.clone());
        if let Some(state) = state.filter(|s| s.steady_state_met != Some(true)) {
            phases.deviated = true;
            phases.status = Some(status_from(&state));
            journal.record(|j| j.deviated = true);
            log_not_met(&last_probe_name(&state));
        }
    }
    Ok(phases)
}

/// The reference's two lines when the run aborts on an unexpected error.
pub(super) fn log_fatal(msg: &str) {
    critical!("Experiment ran into an un expected fatal error, aborting now.");
    critical!("{}", msg);
}

/// The reference's line when the hypothesis before or after the method is not met.
fn log_not_met(probe: &str) {
    critical!(
        "Steady state probe '{}' is not in the given tolerance so failing this experiment",
        probe
    );
}

/// `completed` when every probe ran, `failed` when one of them failed to run.
fn status_from(state: &HypothesisState) -> Status {
    if state
        .probes
        .iter()
        .any(|p| p.status != Some(RunStatus::Succeeded))
    {
        Status::Failed
    } else {
        Status::Completed
    }
}
