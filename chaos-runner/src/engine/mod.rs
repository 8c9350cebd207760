//! The engine: hypothesis before, method (with background activities and an optional
//! continuous hypothesis), hypothesis after, rollbacks, journal. Same sequence, statuses
//! and log lines as chaostoolkit-lib's `Runner._run`.
//!
//! A [`Run`] is the state of one run shared by its threads: cancellation, the reason it
//! stops early (set once, read by every loop), the [`JournalWriter`] that records it,
//! the I/O (one async runtime) and the log's secret mask. The journal records; the
//! engine decides from its own values, never from what it recorded.

pub mod activity;
pub mod context;
pub mod controls;
pub mod hypothesis;
pub mod provider;
pub mod rollbacks;
pub mod safeguards;
pub mod tolerance;

use crate::activity::{Activity, ActivityKind, Dry};
use crate::config::{
    ConfigError, Vars, load_configuration, load_secrets, secret_values, substitute,
};
use crate::control::Scope;
use crate::critical;
use crate::drivers::Registry;
use crate::experiment::Experiment;
use crate::interrupt::Cancel;
use crate::io::Io;
use crate::journal::{HypothesisState, Journal, JournalWriter, RunStatus, Status, now};
use crate::log::SecretMask;
use crate::runtime::AsyncRuntime;
use crate::strategy::{RollbackStrategy, Strategy};
use activity::{Abort, RunSink, execute_activity, execute_activity_telling, spawn_background};
use context::RunContext;
use controls::{Controls, Level};
use hypothesis::{last_probe_name, run_steady_state_hypothesis};
use provider::Output;
use rollbacks::run_rollbacks;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How to run an experiment (the `chaos run` options).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `None`: the experiment's `runtime.hypothesis.strategy`, else default.
    pub strategy: Option<Strategy>,
    /// `None`: the experiment's `runtime.rollbacks.strategy`, else default.
    pub rollback_strategy: Option<RollbackStrategy>,
    pub dry: Option<Dry>,
    /// Seconds between two runs of the continuous hypothesis.
    pub hypothesis_frequency: f64,
    pub fail_fast: bool,
    pub vars: Vars,
    pub registry: Registry,
    /// The settings file's (its controls apply to the run).
    pub settings: crate::settings::Settings,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            strategy: None,
            rollback_strategy: None,
            dry: None,
            hypothesis_frequency: 1.0,
            fail_fast: false,
            vars: Vars::default(),
            registry: Registry::builtin(),
            settings: Default::default(),
        }
    }
}

/// Why the method (and the continuous hypothesis) stopped before their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--fail-fast`: the continuous hypothesis deviated.
    Failed,
    /// Interrupted (Ctrl-C / SIGTERM) while a hypothesis ran.
    Interrupted,
    /// An activity could not run at all.
    Aborted,
}

impl StopReason {
    /// The journal status it gives the run.
    pub fn status(self) -> Status {
        match self {
            StopReason::Failed => Status::Failed,
            StopReason::Interrupted => Status::Interrupted,
            StopReason::Aborted => Status::Aborted,
        }
    }
}

/// One run, shared by the engine's threads and the signal handler (clones share it).
#[derive(Debug, Clone, Default)]
pub struct Run(Arc<RunShared>);

#[derive(Debug, Default)]
struct RunShared {
    cancel: Cancel,
    stop: OnceLock<StopReason>,
    journal: JournalWriter,
    io: Arc<Io>,
    secret_mask: SecretMask,
}

impl Run {
    /// A run whose journal goes to `journal_path` (also on a second signal) and whose
    /// secrets are added to `secret_mask` (the log's, see [`crate::log::init`]).
    pub fn new(journal_path: Option<PathBuf>, secret_mask: SecretMask) -> Self {
        Run(Arc::new(RunShared {
            journal: JournalWriter::new(journal_path),
            secret_mask,
            ..RunShared::default()
        }))
    }

    /// Set by the first termination signal; activities poll it.
    pub fn cancel(&self) -> &Cancel {
        &self.0.cancel
    }

    pub fn journal(&self) -> &JournalWriter {
        &self.0.journal
    }

    /// The run's one async runtime (also for loading the experiment from a URL).
    pub fn runtime(&self) -> &AsyncRuntime {
        &self.0.io.runtime
    }

    /// Stops the method and the continuous hypothesis; the first reason given stays.
    fn stop(&self, reason: StopReason) {
        let _ = self.0.stop.set(reason);
    }

    /// Why the run stopped early, if it did.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.0.stop.get().copied()
    }
}

/// A finished run: the journal plus what the exit status is derived from.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub journal: Journal,
    /// The hypothesis before the method was run and was not met.
    pub before_not_met: Option<String>,
}

impl Outcome {
    /// 0 only when completed, not deviated, and the hypothesis before the method (when
    /// it ran) was met. Unlike the reference, a hypothesis not met before the method
    /// is a failure (exit 1) even though the journal says `completed`.
    pub fn exit_code(&self) -> i32 {
        let ok = self.journal.status == Some(Status::Completed)
            && !self.journal.deviated
            && self.before_not_met.is_none();
        if ok { 0 } else { 1 }
    }
}

/// Runs `experiment` (already validated, unless the caller chose not to) as `run`.
/// Errors only when configuration or secrets can't be loaded, before anything ran.
pub fn run_experiment(
    experiment: Experiment,
    options: &RunOptions,
    run: &Run,
) -> Result<Outcome, ConfigError> {
    let cancel = run.cancel();
    // What the journal echoes: the experiment as written, a few keys set below.
    let mut experiment_json = experiment.written.clone();
    let read = Arc::new(experiment);
    let configuration = load_configuration(read.configuration.as_ref(), &options.vars)?;
    let secrets = load_secrets(read.secrets.as_ref(), &options.vars)?;
    for (name, used) in crate::config::vault_secrets(&read) {
        if used.is_some() {
            return Err(ConfigError::UnsupportedSecret {
                key: name,
                kind: "vault".into(),
            });
        }
        tracing::warn!(
            "Secret '{name}' comes from Vault, which chaos-runner cannot read; nothing uses it, so it is left out"
        );
    }
    run.0.secret_mask.add(secret_values(&secrets));
    let mut ctx = RunContext {
        experiment: read.clone(),
        configuration,
        secrets,
        env: options.vars.env.clone(),
        registry: options.registry.clone(),
        dry: options.dry,
        io: run.0.io.clone(),
        controls: Default::default(),
    };
    ctx.configuration = load_dynamic_configuration(&ctx, cancel);

    // The journal's experiment is the one written, its title substituted.
    let title = read
        .title
        .as_ref()
        .map(|t| substitute(t, &ctx.configuration, &ctx.secrets));
    if let Some(obj) = experiment_json.as_object_mut() {
        if let Some(t) = &title {
            obj.insert("title".into(), t.clone());
        }
        obj.insert(
            "dry".into(),
            options
                .dry
                .map_or(Value::Null, |d| Value::String(d.as_str().into())),
        );
    }
    let title = title
        .as_ref()
        .map(crate::python_value::py_str)
        .unwrap_or_default();
    tracing::info!("Running experiment: {}", title);
    let clock = Instant::now();
    let journal = run.journal();
    journal.start(Journal::new(experiment_json.clone()));
    ctx.controls = Arc::new(Controls::new(
        options.settings.controls.clone(),
        &read.controls,
        experiment_json.clone(),
        options.settings.value.clone(),
        options.registry.bridge().cloned(),
        cancel.clone(),
    ));
    let ctx = Arc::new(ctx);

    if let Some(d) = options.dry {
        tracing::warn!("Running experiment with dry {}", d.as_str());
    }
    let strategy = options
        .strategy
        .or(read.hypothesis_strategy)
        .or(options.settings.hypothesis_strategy)
        .unwrap_or(Strategy::Default);
    let rollback_strategy = options
        .rollback_strategy
        .or(read.rollback_strategy)
        .or(options.settings.rollback_strategy)
        .unwrap_or(RollbackStrategy::Default);
    tracing::info!("Steady-state strategy: {}", strategy.as_str());
    tracing::info!("Rollbacks strategy: {}", rollback_strategy.as_str());

    let has_hypothesis = read.has_hypothesis();
    if !has_hypothesis {
        tracing::info!("No steady state hypothesis defined. That's ok, just exploring.");
    }

    let controls = &ctx.controls;
    let runnable = controls_runnable(controls, &read, &options.registry);
    if runnable {
        controls.begin(&ctx, &read.nested_controls);
    }
    let phases = if !runnable {
        Phases::ended(Status::Aborted)
    } else if controls.interruption().is_some() {
        Phases::ended(Status::Interrupted)
    } else {
        match run_phases(&ctx, run, strategy, has_hypothesis, options) {
            Ok(phases) => phases,
            Err(Abort::Interrupted) => Phases::ended(Status::Interrupted),
            Err(Abort::Fatal(msg)) => {
                log_fatal(&msg);
                Phases::ended(Status::Aborted)
            }
        }
    };
    let Phases {
        mut status,
        deviated,
        before_not_met,
    } = phases;
    if cancel.is_cancelled() {
        status = Some(Status::Interrupted);
    }

    // Nothing ran when a control could not: nothing to roll back.
    if runnable && rollback_strategy.should_play(status, deviated) {
        let sink = RunSink {
            journal: journal.clone(),
            rollbacks: true,
        };
        journal.record(|j| j.rollbacks.clear());
        let context = controls.experiment();
        controls.apply(
            Level::Rollback,
            Scope::Before,
            context,
            &[],
            &Value::Null,
            &ctx,
        );
        if let Err(e) = run_rollbacks(&ctx, &sink) {
            status = Some(Status::Aborted);
            if let Abort::Fatal(msg) = e {
                critical!("{}", msg);
            }
        }
        if controls.applies(&[]) {
            let state = journal.record(|j| serde_json::to_value(&j.rollbacks).unwrap_or_default());
            let state = state.unwrap_or_default();
            controls.apply(Level::Rollback, Scope::After, context, &[], &state, &ctx);
        }
    }

    let status = status.unwrap_or(Status::Completed);
    let final_journal = journal
        .record(|j| {
            j.end = Some(now());
            j.duration = Some(clock.elapsed().as_secs_f64());
            j.status = Some(status);
            j.deviated = deviated;
            j.clone()
        })
        .unwrap_or_else(|| Journal::new(experiment_json.clone()));
    if runnable && (controls.applies(&[]) || !read.nested_controls.is_empty()) {
        let state = serde_json::to_value(&final_journal).unwrap_or_default();
        controls.end(&ctx, &state, &read.nested_controls);
    }
    if deviated {
        tracing::info!("Experiment ended with status: deviated");
        tracing::info!("The steady-state has deviated, a weakness may have been discovered");
    } else {
        tracing::info!("Experiment ended with status: {}", status.as_str());
    }
    Ok(Outcome {
        journal: final_journal,
        before_not_met,
    })
}

/// Whether every control can be run; logs those that cannot (and, unless the user
/// opted out, that nothing was run because of them).
fn controls_runnable(controls: &Controls, read: &Experiment, registry: &Registry) -> bool {
    let unrunnable: Vec<String> = controls
        .all(&read.nested_controls)
        .iter()
        .filter_map(|c| crate::validate::control::check_runnable(c, registry.bridge()).err())
        .collect();
    if unrunnable.is_empty() {
        return true;
    }
    if registry.skips_unrunnable_controls() {
        for why in &unrunnable {
            tracing::warn!("{why}; running without it (--skip-unrunnable-controls)");
        }
        return true;
    }
    for why in &unrunnable {
        critical!("{}", why);
    }
    critical!(
        "Nothing was run: a control that cannot be run could not guard the experiment (--skip-unrunnable-controls runs it without such controls)"
    );
    false
}

/// Where the phases left the run.
struct Phases {
    status: Option<Status>,
    deviated: bool,
    /// The probe that broke the hypothesis before the method, if it did.
    before_not_met: Option<String>,
}

impl Phases {
    fn ended(status: Status) -> Self {
        Phases {
            status: Some(status),
            deviated: false,
            before_not_met: None,
        }
    }
}

/// Hypothesis before, method, hypothesis after.
fn run_phases(
    ctx: &Arc<RunContext>,
    run: &Run,
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
fn log_fatal(msg: &str) {
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

/// Runs the method. Ok(false) when it aborted on an unexpected error.
fn run_method(ctx: &Arc<RunContext>, run: &Run) -> Result<bool, Abort> {
    tracing::info!("Playing your experiment's method now...");
    let cancel = run.cancel();
    run.journal().record(|j| j.run.clear());
    let method = &ctx.experiment.method;
    if method.is_empty() {
        tracing::info!("No declared activities, let's move on.");
    }
    let sink = RunSink {
        journal: run.journal().clone(),
        rollbacks: false,
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
            let (ctx, cancel) = (ctx.clone(), cancel.clone());
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

/// Runs the hypothesis every `frequency` seconds during the method, on its own thread.
fn spawn_continuous(
    ctx: Arc<RunContext>,
    run: Run,
    options: &RunOptions,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = mpsc::channel::<()>();
    let frequency = options.hypothesis_frequency.max(0.0);
    let fail_fast = options.fail_fast;
    let handle = std::thread::spawn(move || {
        tracing::info!(
            "Executing the steady-state hypothesis continuously every {} seconds",
            crate::python_value::py_str(&serde_json::json!(frequency))
        );
        let mut failed = 0u32;
        let mut iteration = 1u32;
        // The first check runs even when the method is already over (a method quicker
        // than this thread's start): the reference's thread nearly always gets one in.
        loop {
            if run.stop_reason().is_some() {
                break;
            }
            match run_steady_state_hypothesis(&ctx, run.cancel()) {
                Ok(Some(state)) => {
                    let met = state.steady_state_met == Some(true);
                    let probe = last_probe_name(&state);
                    run.journal().record(|j| j.steady_states.during.push(state));
                    if !met {
                        failed += 1;
                        let ratio = f64::from(failed) * 100.0 / f64::from(iteration);
                        tracing::warn!(
                            "Continuous steady state probe '{}' is not in the given tolerance",
                            probe
                        );
                        if fail_fast {
                            tracing::info!(
                                "Terminating immediately the experiment after {:.1}% hypothesis deviated",
                                ratio
                            );
                            run.stop(StopReason::Failed);
                            break;
                        }
                    }
                }
                Ok(None) => {}
                Err(Abort::Interrupted) => {
                    run.stop(StopReason::Interrupted);
                    break;
                }
                Err(Abort::Fatal(msg)) => {
                    run.stop(StopReason::Aborted);
                    critical!("{}", msg);
                    break;
                }
            }
            iteration += 1;
            let interval = crate::duration::from_seconds(frequency)
                .unwrap_or(Duration::from_secs_f64(crate::duration::MAX_SECONDS));
            match stopped.recv_timeout(interval) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => break,
            }
        }
        tracing::info!("Continuous steady state hypothesis terminated");
    });
    (stop, handle)
}

/// Configuration entries that are probes get the probe's output as their value
/// (process: stripped stdout when it exited 0; http: the body; python: the output).
fn load_dynamic_configuration(ctx: &RunContext, cancel: &Cancel) -> Map<String, Value> {
    let mut out = Map::new();
    let mut had_errors = false;
    for (key, value) in &ctx.configuration {
        let Some(probe) = Activity::from_value(value)
            .ok()
            .filter(|a| a.kind == ActivityKind::Probe)
        else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let partial = RunContext {
            configuration: out.clone(),
            ..ctx.clone()
        };
        match probe.run_provider(&partial.provider(cancel)) {
            Ok(Output::Process {
                status: 0, stdout, ..
            }) => {
                out.insert(key.clone(), Value::String(stdout.trim().to_string()));
            }
            Ok(Output::Process { .. }) => had_errors = true,
            Ok(Output::Http { body, .. }) => {
                out.insert(key.clone(), body);
            }
            Ok(Output::Python(value)) => {
                out.insert(key.clone(), value);
            }
            Err(e) => {
                had_errors = true;
                tracing::debug!("Failed to load configuration '{}': {}", key, e);
            }
        }
    }
    if had_errors {
        tracing::warn!(
            "Some of the dynamic configuration failed to be loaded.Please review the log file for understanding what happened."
        );
    }
    out
}
