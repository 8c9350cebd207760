//! Running one activity (probe or action) and recording it as a journal run.

use super::context::RunContext;
use super::provider::{Output, ProviderError};
use crate::activity::{Activity, ActivityKind, Dry, Entry};
use crate::config::substitute;
use crate::interrupt::Cancel;
use crate::journal::{ActivityRun, JournalWriter, RunStatus, now};
use crate::python_value::py_str;
use serde_json::Value;
use std::time::Instant;

/// Where runs are recorded as they start: one of the journal's lists.
#[derive(Clone)]
pub struct RunSink {
    pub journal: JournalWriter,
    pub list: RunList,
}

/// The journal's lists of activity runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunList {
    /// The method's (the journal's `run`).
    Method,
    Rollbacks,
}

/// Runs `activity` on its own thread (a background activity) with `sink`, and returns
/// once it has recorded its start or begun its pause before (or ended): the journal
/// then lists it before whatever the caller starts next, as the reference's does in
/// practice (its pool thread starts before the method's next activity), instead of a
/// race the next activity usually won.
pub fn spawn_background(
    sink: &RunSink,
    activity: impl FnOnce(&RunSink, &Started) -> Result<(), Abort> + Send + 'static,
) -> std::thread::JoinHandle<Result<(), Abort>> {
    let (tell, started) = std::sync::mpsc::sync_channel(1);
    let sink = sink.clone();
    let handle = std::thread::spawn(move || activity(&sink, &Started(Some(tell))));
    // Err: the thread ended without telling (its sender is dropped with it).
    let _ = started.recv();
    handle
}

/// Told once a background activity has started (see [`spawn_background`]).
#[derive(Debug, Default)]
pub struct Started(Option<std::sync::mpsc::SyncSender<()>>);

impl Started {
    /// No one waits (a foreground activity).
    pub const NONE: Started = Started(None);

    fn tell(&self) {
        if let Some(tell) = &self.0 {
            let _ = tell.try_send(());
        }
    }
}

impl RunSink {
    fn with_list<T>(&self, f: impl FnOnce(&mut Vec<ActivityRun>) -> T) -> Option<T> {
        self.journal.record(|j| {
            f(match self.list {
                RunList::Method => &mut j.run,
                RunList::Rollbacks => &mut j.rollbacks,
            })
        })
    }
}

/// Why an activity did not produce a run record.
#[derive(Debug, Clone, PartialEq)]
pub enum Abort {
    /// Interrupted while it ran (its record, if any, is in the sink without `status`).
    Interrupted,
    /// Could not run at all (e.g. a `ref` to nothing): the run aborts.
    Fatal(String),
}

/// One pause: its seconds, and how the log line shows them (as written).
#[derive(Debug, Clone, PartialEq)]
struct Pause {
    seconds: f64,
    shown: String,
}

/// An activity's `pauses`, read after `${}` substitution: only positive numbers (or
/// numeric strings) pause.
#[derive(Debug, Clone, Default, PartialEq)]
struct Pauses {
    before: Option<Pause>,
    after: Option<Pause>,
}

impl Pauses {
    /// The pauses to make; a value that is no usable duration (a `${}` variable of 1e300,
    /// say, which validation cannot see) is an error naming the key.
    fn parse(pauses: &Value) -> Result<Pauses, String> {
        let one = |key: &str| -> Result<Option<Pause>, String> {
            let Some(v) = pauses.get(key) else {
                return Ok(None);
            };
            let seconds = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let Some(seconds) = seconds.filter(|s| *s > 0.0) else {
                return Ok(None);
            };
            crate::duration::check(seconds).map_err(|why| format!("pauses.{key} {why}"))?;
            Ok(Some(Pause {
                seconds,
                shown: py_str(v),
            }))
        };
        Ok(Pauses {
            before: one("before")?,
            after: one("after")?,
        })
    }
}

/// Runs one activity as the reference's `execute_activity` does: pauses, log line,
/// provider call, and a run record (also pushed to `sink` as soon as it starts).
/// Its controls' `before` and `after` hooks wrap it all (pauses included), as in chaoslib.
pub fn execute_activity(
    entry: &Entry,
    ctx: &RunContext,
    cancel: &Cancel,
    sink: Option<&RunSink>,
) -> Result<ActivityRun, Abort> {
    execute_activity_telling(entry, ctx, cancel, sink, &Started::NONE)
}

/// [`execute_activity`], telling `start_signal` once the activity has recorded its start or
/// begun its pause before.
pub fn execute_activity_telling(
    entry: &Entry,
    ctx: &RunContext,
    cancel: &Cancel,
    sink: Option<&RunSink>,
    start_signal: &Started,
) -> Result<ActivityRun, Abort> {
    let declared = entry
        .as_ref()
        .map_err(|_| Abort::Fatal("an activity must be a mapping".into()))?;
    let activity = match &declared.reference {
        Some(name) => ctx
            .lookup(name)
            .ok_or_else(|| Abort::Fatal(format!("could not find referenced activity '{name}'")))?,
        None => declared,
    };
    let controls = &ctx.controls;
    if !controls.applies(&activity.controls) {
        return run_activity(activity, ctx, cancel, sink, start_signal);
    }
    use super::controls::Level;
    use crate::control::Scope;
    let context = Value::Object(activity.written.clone());
    controls.apply(
        Level::Activity,
        Scope::Before,
        &context,
        &activity.controls,
        &Value::Null,
        ctx,
    );
    // A control that stopped the run (an interruption, or an exit it asked for) stops
    // it before the activity starts: no record, as in the reference.
    if cancel.is_cancelled()
        && (controls.interruption().is_some() || cancel.exit_requested().is_some())
    {
        return Err(Abort::Interrupted);
    }
    let result = run_activity(activity, ctx, cancel, sink, start_signal);
    let state = match &result {
        Ok(run) => serde_json::to_value(run).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    controls.apply(
        Level::Activity,
        Scope::After,
        &context,
        &activity.controls,
        &state,
        ctx,
    );
    result
}

fn run_activity(
    activity: &Activity,
    ctx: &RunContext,
    cancel: &Cancel,
    sink: Option<&RunSink>,
    start_signal: &Started,
) -> Result<ActivityRun, Abort> {
    let name = activity.name.as_str();
    let is_dry = match ctx.dry {
        Some(Dry::Actions) => activity.kind == ActivityKind::Action,
        Some(Dry::Probes) => activity.kind == ActivityKind::Probe,
        Some(Dry::Activities) => true,
        _ => false,
    };
    let skip_pauses = is_dry || ctx.dry == Some(Dry::Pause);
    let pauses = activity
        .pauses
        .as_ref()
        .map(|p| Pauses::parse(&substitute(p, &ctx.configuration, &ctx.secrets)))
        .transpose()
        .map_err(|why| Abort::Fatal(format!("activity '{name}': {why}")))?
        .unwrap_or_default();

    if let Some(Pause { seconds, shown }) = &pauses.before {
        tracing::info!("Pausing before next activity for {}s...", shown);
        if !skip_pauses {
            start_signal.tell();
            if !crate::pause::pause(*seconds, cancel) {
                return Err(Abort::Interrupted);
            }
        }
    }

    let title = activity.kind.title();
    if activity.background {
        tracing::info!("{}: {} [in background]", title, name);
    } else {
        tracing::info!("{}: {}", title, name);
    }

    let started = Instant::now();
    let start = now();
    let index = sink.and_then(|s| {
        s.with_list(|runs| {
            runs.push(partial(activity, start.clone(), 0.0));
            runs.len() - 1
        })
    });
    start_signal.tell();

    let result = if is_dry {
        tracing::debug!("Activity {} is in dry mode", name);
        Ok(Value::Null)
    } else {
        activity
            .run_provider(&ctx.provider(cancel))
            .map(Output::into_value)
    };
    let mut run = partial(activity, start, 0.0);
    run.end = now();
    run.duration = started.elapsed().as_secs_f64();
    let interrupted = match result {
        Ok(output) => {
            if output.is_null() {
                tracing::debug!("  => succeeded without any result value");
            } else {
                tracing::debug!("  => succeeded with '{}'", py_str(&output));
            }
            run.output = output;
            run.status = Some(RunStatus::Succeeded);
            false
        }
        Err(ProviderError::Failed(msg)) => {
            tracing::error!("  => failed: {}", msg);
            run.status = Some(RunStatus::Failed);
            run.exception = Some(vec![format!("chaoslib.exceptions.ActivityFailed: {msg}\n")]);
            false
        }
        Err(ProviderError::Raised { message, traceback }) => {
            tracing::error!("  => failed: {}", message);
            run.status = Some(RunStatus::Failed);
            let mut lines = traceback;
            lines.push(
                "\nDuring handling of the above exception, another exception occurred:\n\n".into(),
            );
            lines.push(format!("chaoslib.exceptions.ActivityFailed: {message}\n"));
            run.exception = Some(lines);
            false
        }
        Err(ProviderError::Interrupted) => true,
    };
    if let (Some(s), Some(i)) = (sink, index) {
        s.with_list(|runs| {
            if let Some(slot) = runs.get_mut(i) {
                *slot = run.clone();
            }
        });
    }
    if interrupted {
        return Err(Abort::Interrupted);
    }

    if let Some(Pause { seconds, shown }) = &pauses.after {
        tracing::info!("Pausing after activity for {}s...", shown);
        if !skip_pauses && !crate::pause::pause(*seconds, cancel) {
            return Err(Abort::Interrupted);
        }
    }
    Ok(run)
}

fn partial(activity: &Activity, start: String, duration: f64) -> ActivityRun {
    ActivityRun {
        activity: Value::Object(activity.written.clone()),
        output: Value::Null,
        end: start.clone(),
        start,
        status: None,
        exception: None,
        duration,
        tolerance_met: None,
    }
}
