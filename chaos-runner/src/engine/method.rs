//! The method: its activities in order, background ones on their own threads, the
//! method's controls around it.

use super::activity::{
    Abort, RunList, RunSink, execute_activity, execute_activity_telling, spawn_background,
};
use super::context::RunContext;
use super::controls::Level;
use super::handle::{RunHandle, StopReason};
use super::phases::log_fatal;
use crate::control::Scope;
use serde_json::Value;
use std::sync::Arc;

/// Runs the method. Ok(false) when it aborted on an unexpected error.
pub(super) fn run_method(ctx: &Arc<RunContext>, run: &RunHandle) -> Result<bool, Abort> {
    tracing::info!("Playing your experiment's method now...");
    let cancel = run.cancel();
    run.journal().record(|j| j.run.clear());
    let method = &ctx.experiment.method;
    if method.is_empty() {
        tracing::info!("No declared activities, let's move on.");
    }
    let sink = RunSink {
        journal: run.journal().clone(),
        list: RunList::Method,
    };
    let controls = &ctx.controls;
    controls.apply(
        Level::Method,
        Scope::Before,
        controls.experiment(),
        &[],
        &Value::Null,
        ctx,
    );
    let mut background = Vec::new();
    let mut result = Ok(true);
    for (index, entry) in method.iter().enumerate() {
        if cancel.is_cancelled() {
            result = Err(Abort::Interrupted);
            break;
        }
        if entry.as_ref().is_ok_and(|a| a.background) {
            tracing::debug!("activity will run in the background");
            let (ctx, cancel) = (ctx.clone(), cancel.for_background());
            background.push(spawn_background(&sink, move |sink, started| {
                let entry = &ctx.experiment.method[index];
                execute_activity_telling(entry, &ctx, &cancel, Some(sink), started).map(|_| ())
            }));
        } else if let Err(e) = execute_activity(entry, ctx, cancel, Some(&sink)) {
            result = Err(e);
            break;
        }
        if run.stop_reason().is_some() {
            break;
        }
    }
    if !background.is_empty() {
        tracing::debug!("Waiting for background activities to complete");
    }
    for handle in background {
        let failed = match handle.join() {
            Ok(outcome) => outcome.err(),
            Err(panic) => Some(Abort::Fatal(format!(
                "a background activity failed unexpectedly: {}",
                crate::panic::message(&panic)
            ))),
        };
        if let Some(e) = failed
            && result.is_ok()
        {
            result = Err(e);
        }
    }
    if controls.applies(&[]) {
        let state = run
            .journal()
            .record(|j| serde_json::to_value(&j.run).unwrap_or_default())
            .unwrap_or_default();
        controls.apply(
            Level::Method,
            Scope::After,
            controls.experiment(),
            &[],
            &state,
            ctx,
        );
    }
    match result {
        Err(Abort::Fatal(msg)) => {
            run.stop(StopReason::Aborted);
            log_fatal(&msg);
            Ok(false)
        }
        other => other,
    }
}
