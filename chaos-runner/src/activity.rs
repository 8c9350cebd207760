//! Running one activity (probe or action) and recording it as a journal run.

use crate::config::{Configuration, Secrets, substitute};
use crate::drivers::Registry;
use crate::experiment::Experiment;
use crate::interrupt::Cancel;
use crate::journal::{ActivityRun, JournalWriter, RunStatus, now};
use crate::provider::{Io, Output, Provider, ProviderContext, ProviderError};
use crate::pyvalue::py_str;
use crate::validate::{Problems, pointer, truthy};
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
    /// The experiment, read (its activities, for `ref` lookups too).
    pub experiment: Arc<Experiment>,
    pub configuration: Configuration,
    pub secrets: Secrets,
    pub env: BTreeMap<String, String>,
    pub registry: Registry,
    pub dry: Option<Dry>,
    /// The run's async runtime and HTTP clients.
    pub io: Arc<Io>,
    /// The run's controls (none when the experiment and the settings declare none).
    pub controls: Arc<crate::control::Controls>,
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
    pub fn lookup(&self, name: &str) -> Option<&Activity> {
        self.experiment.lookup(name)
    }
}

/// Whether an activity is a probe or an action (as its `type` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityKind {
    Probe,
    Action,
    /// Anything else, as written (empty when absent): validation reports it.
    Other(String),
}

impl ActivityKind {
    fn from_name(name: &str) -> Self {
        match name {
            "probe" => ActivityKind::Probe,
            "action" => ActivityKind::Action,
            other => ActivityKind::Other(other.to_string()),
        }
    }

    /// As the log line starts: `Probe`, `Action`.
    fn title(&self) -> String {
        match self {
            ActivityKind::Probe => "Probe".into(),
            ActivityKind::Action => "Action".into(),
            ActivityKind::Other(kind) => title_case(kind),
        }
    }
}

/// One entry of a method, of the rollbacks or of the hypothesis probes: an activity, or
/// something else written in its place (validation reports it; reaching it aborts).
pub type Entry = Result<Activity, NotAnActivity>;

/// An entry that is not a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct NotAnActivity;

/// An activity: read once from the experiment, kept as written for the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// As written: what the journal records.
    pub written: Map<String, Value>,
    pub kind: ActivityKind,
    /// The `name` when it is a string, else empty.
    pub name: String,
    /// The `name` as Python prints it (`None` when absent), for the rollback log line.
    pub label: String,
    /// `None` when absent or not a mapping.
    pub provider: Option<Provider>,
    /// As written (`${}` is resolved when it is checked); present even when `null`.
    pub tolerance: Option<Value>,
    /// As written (`${}` is resolved when the activity runs).
    pub pauses: Option<Value>,
    pub background: bool,
    /// Its own `controls` (applied around it with the experiment's automatic ones).
    pub controls: Vec<crate::control::Declared>,
    /// The activity this one stands for (a non-empty `ref`).
    pub reference: Option<String>,
}

impl Activity {
    pub fn from_value(value: &Value) -> Entry {
        value
            .as_object()
            .map(Activity::from_map)
            .ok_or(NotAnActivity)
    }

    pub fn from_map(written: &Map<String, Value>) -> Activity {
        let text = |key: &str| written.get(key).and_then(Value::as_str);
        Activity {
            kind: ActivityKind::from_name(text("type").unwrap_or("")),
            name: text("name").unwrap_or("").to_string(),
            label: written.get("name").map_or_else(|| "None".into(), py_str),
            provider: written.get("provider").and_then(Provider::from_value),
            tolerance: written.get("tolerance").cloned(),
            pauses: written.get("pauses").cloned(),
            background: written.get("background").and_then(Value::as_bool) == Some(true),
            controls: crate::control::declared(written.get("controls")),
            reference: text("ref").filter(|r| !r.is_empty()).map(str::to_string),
            written: written.clone(),
        }
    }

    /// The activity rules (`at` is its JSON pointer), then its provider's.
    pub fn validate(activity: &Value, at: &str, registry: &Registry, problems: &mut Problems) {
        let Some(a) = activity.as_object() else {
            problems.add(at, "an activity must be a mapping");
            return;
        };
        if a.is_empty() {
            problems.add(at, "empty activity is no activity");
            return;
        }
        if let Some(r) = a.get("ref").filter(|r| !r.is_null()) {
            if r.as_str().is_none_or(str::is_empty) {
                problems.add(
                    pointer(at, "ref"),
                    "reference to activity must be non-empty strings",
                );
            }
            return;
        }
        match a.get("type") {
            v if !truthy(v) => problems.add(pointer(at, "type"), "an activity must have a type"),
            Some(Value::String(t)) if t == "probe" || t == "action" => {}
            Some(t) => problems.add(
                pointer(at, "type"),
                format!("'{}' is not a supported activity type", py_str(t)),
            ),
            None => {}
        }
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        if !truthy(a.get("name")) {
            problems.add(pointer(at, "name"), "an activity must have a name");
        }
        if let Some(why) = a
            .get("timeout")
            .filter(|t| !t.is_null())
            .and_then(|t| crate::duration::problem(t, "activity timeout"))
        {
            problems.add(pointer(at, "timeout"), why);
        }
        if let Some(pauses) = a.get("pauses").filter(|p| !p.is_null()) {
            match pauses.as_object() {
                Some(p) => {
                    for key in ["before", "after"] {
                        match p.get(key) {
                            None | Some(Value::Null) => {}
                            Some(Value::Number(n)) => {
                                if let Err(why) = crate::duration::check(n.as_f64().unwrap_or(f64::NAN)) {
                                    problems.add(
                                        pointer(&pointer(at, "pauses"), key),
                                        format!("activity {key} pause {why}"),
                                    );
                                }
                            }
                            Some(Value::String(s)) if s.starts_with("${") && s.ends_with('}') => {}
                            Some(_) => problems.add(
                                pointer(&pointer(at, "pauses"), key),
                                format!(
                                    "activity {key} pause must be a number or a pattern to a variable from the configuration or secrets"
                                ),
                            ),
                        }
                    }
                }
                None => problems.add(pointer(at, "pauses"), "activity pauses must be a mapping"),
            }
        }
        if let Some(bg) = a.get("background")
            && !bg.is_boolean()
        {
            problems.add(
                pointer(at, "background"),
                "activity background must be a boolean",
            );
        }
        let kind = a.get("type").and_then(Value::as_str);
        Provider::validate(
            a.get("provider"),
            &pointer(at, "provider"),
            name,
            kind,
            registry,
            problems,
        );
    }

    /// Runs the provider and returns its output.
    pub fn run_provider(&self, ctx: &ProviderContext) -> Result<Output, ProviderError> {
        match &self.provider {
            Some(provider) => provider.run(self.tolerance.is_some(), ctx),
            None => Err(ProviderError::Failed("the activity has no provider".into())),
        }
    }
}

/// Where runs are recorded as they start (the method's or the rollbacks' list).
#[derive(Clone)]
pub struct RunSink {
    pub journal: JournalWriter,
    pub rollbacks: bool,
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
    use crate::control::{Level, Scope};
    let context = Value::Object(activity.written.clone());
    controls.apply(
        Level::Activity,
        Scope::Before,
        &context,
        &activity.controls,
        &Value::Null,
        ctx,
    );
    if controls.interruption().is_some() && cancel.is_cancelled() {
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
