//! Rollbacks: whether they play (the strategy against the run's end) and running them.

use super::activity::{
    Abort, RunSink, execute_activity, execute_activity_telling, spawn_background,
};
use super::context::RunContext;
use crate::interrupt::Cancel;
use crate::journal::Status;
use crate::strategy::RollbackStrategy;

impl RollbackStrategy {
    /// Whether rollbacks play, logging the reference's warnings.
    pub fn should_play(self, status: Option<Status>, deviated: bool) -> bool {
        match self {
            RollbackStrategy::Always => {
                tracing::warn!("Rollbacks were explicitly requested to be played");
                true
            }
            RollbackStrategy::Never => {
                tracing::warn!("Rollbacks were explicitly requested to not be played");
                false
            }
            RollbackStrategy::Default => {
                !matches!(status, Some(Status::Failed) | Some(Status::Interrupted))
            }
            RollbackStrategy::Deviated if deviated => {
                tracing::warn!("Rollbacks will be played only because the experiment deviated");
                true
            }
            RollbackStrategy::Deviated => {
                tracing::warn!(
                    "Rollbacks were explicitely requested to be played only if the experiment deviated. Since this is not the case, we will not play them."
                );
                false
            }
        }
    }
}

/// Runs every rollback in order (background ones on their own threads, waited for at
/// the end), until `cancel` is: an interruption that came before the rollbacks (the
/// caller gives a cancellation never set then) does not stop them, since undoing the
/// experiment's actions is the point of an orderly stop; one that comes while they run
/// stops them as in the reference (the rollback running is cut, the others skipped).
pub fn run_rollbacks(
    ctx: &std::sync::Arc<RunContext>,
    sink: &RunSink,
    cancel: &Cancel,
) -> Result<(), Abort> {
    tracing::info!("Let's rollback...");
    let rollbacks = &ctx.experiment.rollbacks;
    if rollbacks.is_empty() {
        tracing::info!("No declared rollbacks, let's move on.");
    }
    let cancel = cancel.clone();
    let mut background = Vec::new();
    let mut outcome = Ok(());
    for (index, entry) in rollbacks.iter().enumerate() {
        if cancel.is_cancelled() {
            outcome = Err(Abort::Interrupted);
            break;
        }
        let name = entry.as_ref().map_or("None", |a| a.label.as_str());
        tracing::info!("Rollback: {}", name);
        if entry.as_ref().is_ok_and(|a| a.background) {
            tracing::debug!("rollback activity will run in the background");
            let (ctx, cancel) = (ctx.clone(), cancel.clone());
            background.push(spawn_background(sink, move |sink, started| {
                let entry = &ctx.experiment.rollbacks[index];
                execute_activity_telling(entry, &ctx, &cancel, Some(sink), started).map(|_| ())
            }));
        } else if let Err(e) = execute_activity(entry, ctx, &cancel, Some(sink)) {
            outcome = Err(e);
            break;
        }
    }
    if !background.is_empty() {
        tracing::debug!("Waiting for background rollbacks to complete...");
    }
    for handle in background {
        if let Ok(Err(e)) = handle.join()
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    outcome
}
