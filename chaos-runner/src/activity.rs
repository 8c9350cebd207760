//! Running one activity (probe or action) and recording it as a journal run.

use crate::config::{Configuration, Secrets, substitute};
use crate::drivers::Registry;
use crate::interrupt::Cancel;
use crate::journal::{ActivityRun, JournalWriter, RunStatus, now};
use crate::provider::{Io, ProviderContext, ProviderError, run_provider};
use crate::pyvalue::py_str;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What `--dry` skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dry {
    Probes,
    Actions,
    Activities,
    Pause,
}

impl Dry {
    pub fn as_str(self) -> &'static str {
        match self {
            Dry::Probes => "probes",
            Dry::Actions => "actions",
            Dry::Activities => "activities",
            Dry::Pause => "pause",
        }
    }
}

/// Everything shared by the activities of one run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The experiment, for `ref` lookups.
    pub experiment: Value,
    pub configuration: Configuration,
    pub secrets: Secrets,
    pub env: BTreeMap<String, String>,
    pub registry: Registry,
    pub dry: Option<Dry>,
    /// The run's async runtime and HTTP clients.
    pub io: Arc<Io>,
}

impl RunContext {
    pub fn provider<'a>(&'a self, cancel: &'a Cancel) -> ProviderContext<'a> {
        ProviderContext {
            configuration: &self.configuration,
            secrets: &self.secrets,
            env: &self.env,
            registry: &self.registry,
            cancel,
            io: &self.io,
        }
    }

    /// The activity a `ref` names: a method activity or a hypothesis probe.
    pub fn lookup(&self, name: &str) -> Option<&Map<String, Value>> {
        lookup_activity(&self.experiment, name)
    }
}

/// Finds the activity named `name` among the method and the hypothesis probes
/// (the reference's activity cache; later entries win, hypothesis last).
pub fn lookup_activity<'a>(experiment: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    let method = experiment.get("method").and_then(Value::as_array);
    let probes = experiment
        .get("steady-state-hypothesis")
        .and_then(|h| h.get("probes"))
        .and_then(Value::as_array);
    method
        .into_iter()
        .flatten()
        .chain(probes.into_iter().flatten())
        .filter_map(Value::as_object)
        .rfind(|a| a.get("name").and_then(Value::as_str) == Some(name))
}

/// Where runs are recorded as they start (the method's or the rollbacks' list).
#[derive(Clone)]
pub struct RunSink {
    pub journal: JournalWriter,
    pub rollbacks: bool,
}

impl RunSink {
    fn with_list<T>(&self, f: impl FnOnce(&mut Vec<ActivityRun>) -> T) -> Option<T> {
        self.journal.record(|j| {
            f(if self.rollbacks {
                &mut j.rollbacks
            } else {
                &mut j.run
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

fn pause_seconds(v: Option<&Value>) -> Option<(f64, String)> {
    let v = v?;
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs > 0.0).then(|| (secs, py_str(v)))
}

/// Runs one activity as the reference's `execute_activity` does: pauses, log line,
/// provider call, and a run record (also pushed to `sink` as soon as it starts).
pub fn execute_activity(
    activity: &Value,
    ctx: &RunContext,
    cancel: &Cancel,
    sink: Option<&RunSink>,
) -> Result<ActivityRun, Abort> {
    let mut activity = activity
        .as_object()
        .cloned()
        .ok_or_else(|| Abort::Fatal("an activity must be a mapping".into()))?;
    if let Some(name) = activity
        .get("ref")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        activity = ctx
            .lookup(name)
            .cloned()
            .ok_or_else(|| Abort::Fatal(format!("could not find referenced activity '{name}'")))?;
    }
    let kind = activity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = activity
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let is_dry = match ctx.dry {
        Some(Dry::Actions) => kind == "action",
        Some(Dry::Probes) => kind == "probe",
        Some(Dry::Activities) => true,
        _ => false,
    };
    let skip_pauses = is_dry || ctx.dry == Some(Dry::Pause);
    let pauses = activity
        .get("pauses")
        .map(|p| substitute(p, &ctx.configuration, &ctx.secrets))
        .unwrap_or(Value::Null);

    if let Some((secs, shown)) = pause_seconds(pauses.get("before")) {
        tracing::info!("Pausing before next activity for {}s...", shown);
        if !skip_pauses && !crate::pause::pause(secs, cancel) {
            return Err(Abort::Interrupted);
        }
    }

    let title = title_case(&kind);
    if activity.get("background").and_then(Value::as_bool) == Some(true) {
        tracing::info!("{}: {} [in background]", title, name);
    } else {
        tracing::info!("{}: {}", title, name);
    }

    let started = Instant::now();
    let start = now();
    let index = sink.and_then(|s| {
        s.with_list(|runs| {
            runs.push(partial(&activity, start.clone(), 0.0));
            runs.len() - 1
        })
    });

    let result = if is_dry {
        tracing::debug!("Activity {} is in dry mode", name);
        Ok(Value::Null)
    } else {
        run_provider(&activity, &ctx.provider(cancel))
    };
    let mut run = partial(&activity, start, 0.0);
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

    if let Some((secs, shown)) = pause_seconds(pauses.get("after")) {
        tracing::info!("Pausing after activity for {}s...", shown);
        if !skip_pauses && !crate::pause::pause(secs, cancel) {
            return Err(Abort::Interrupted);
        }
    }
    Ok(run)
}

fn partial(activity: &Map<String, Value>, start: String, duration: f64) -> ActivityRun {
    ActivityRun {
        activity: Value::Object(activity.clone()),
        output: Value::Null,
        end: start.clone(),
        start,
        status: None,
        exception: None,
        duration,
        tolerance_met: None,
    }
}

fn title_case(kind: &str) -> String {
    let mut c = kind.chars();
    c.next()
        .map(|f| {
            f.to_uppercase()
                .chain(c.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}
