//! The engine: hypothesis before, method (with background activities and an optional
//! continuous hypothesis), hypothesis after, rollbacks, journal. Same sequence, statuses
//! and log lines as chaostoolkit-lib's `Runner._run`.
//!
//! A [`RunHandle`] is the state of one run shared by its threads ([`handle`]); the journal
//! records, and the engine decides from its own values, never from what it recorded.

pub mod activity;
mod configuration;
pub mod context;
mod continuous;
pub mod controls;
pub mod handle;
pub mod hypothesis;
mod method;
mod phases;
pub mod provider;
pub mod rollbacks;
pub mod safeguards;
pub mod tolerance;

use crate::activity::Dry;
use crate::config::{
    ConfigError, Vars, load_configuration, load_secrets, secret_values, substitute,
};
use crate::control::Scope;
use crate::critical;
use crate::drivers::Registry;
use crate::experiment::Experiment;
use crate::interrupt::{Cancel, Exit};
use crate::journal::{Journal, Status, now};
use crate::strategy::{RollbackStrategy, Strategy};
use activity::{Abort, RunList, RunSink};
use context::RunContext;
use controls::{Controls, Level};
pub use handle::{RunHandle, StopReason};
use phases::{Phases, log_fatal, run_phases};
use rollbacks::run_rollbacks;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

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
    run: &RunHandle,
) -> Result<Outcome, ConfigError> {
    let mut ctx = prepare(experiment, options, run)?;
    let clock = Instant::now();
    let journal_experiment = start(&mut ctx, options, run);
    let ctx = Arc::new(ctx);
    let (strategy, rollback_strategy) = strategies(&ctx.experiment, options);
    let has_hypothesis = ctx.experiment.has_hypothesis();
    if !has_hypothesis {
        tracing::info!("No steady state hypothesis defined. That's ok, just exploring.");
    }

    let runnable = controls_runnable(&ctx.controls, &ctx.experiment, &options.registry);
    if runnable {
        ctx.controls.begin(&ctx, &ctx.experiment.nested_controls);
    }
    let mut phases = if !runnable {
        Phases::ended(Status::Aborted)
    } else if ctx.controls.interruption().is_some() || run.cancel().exit_requested().is_some() {
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
    if run.cancel().is_cancelled() {
        phases.status = Some(Status::Interrupted);
    }
    // Nothing ran when a control could not: nothing to roll back. An ungraceful exit
    // asks for none.
    if run.cancel().exit_requested() == Some(Exit::Ungracefully) {
        tracing::warn!("Ignoring rollbacks as per signal");
    } else if runnable && rollback_strategy.should_play(phases.status, phases.deviated) {
        play_rollbacks(&ctx, run, &mut phases.status);
    }
    let journal = finish(&ctx, run, &phases, clock, journal_experiment, runnable);
    Ok(Outcome {
        journal,
        before_not_met: phases.before_not_met,
    })
}

/// Before anything runs: configuration and secrets (Vault secrets refused where used),
/// their values masked in the log, then the dynamic configuration.
fn prepare(
    experiment: Experiment,
    options: &RunOptions,
    run: &RunHandle,
) -> Result<RunContext, ConfigError> {
    let configuration = load_configuration(experiment.configuration.as_ref(), &options.vars)?;
    let secrets = load_secrets(experiment.secrets.as_ref(), &options.vars)?;
    for (name, used) in crate::config::vault_secrets(&experiment) {
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
    run.mask_secrets(secret_values(&secrets));
    if let Some(bridge) = options.registry.bridge() {
        bridge.watch_exits(run.cancel().clone());
    }
    let mut ctx = RunContext {
        experiment: Arc::new(experiment),
        configuration,
        secrets,
        env: options.vars.env.clone(),
        registry: options.registry.clone(),
        dry: options.dry,
        io: run.io(),
        controls: Default::default(),
    };
    ctx.configuration = configuration::load_dynamic_configuration(&ctx, run.cancel());
    Ok(ctx)
}

/// Starts the journal with the experiment as written, its title substituted and the
/// `dry` option recorded, and sets up the run's controls; returns that experiment.
fn start(ctx: &mut RunContext, options: &RunOptions, run: &RunHandle) -> Value {
    let mut experiment = ctx.experiment.written.clone();
    let title = ctx
        .experiment
        .title
        .as_ref()
        .map(|t| substitute(t, &ctx.configuration, &ctx.secrets));
    if let Some(obj) = experiment.as_object_mut() {
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
    run.journal().start(Journal::new(experiment.clone()));
    ctx.controls = Arc::new(Controls::new(
        options.settings.controls.clone(),
        &ctx.experiment.controls,
        experiment.clone(),
        options.settings.value.clone(),
        options.registry.bridge().cloned(),
        run.cancel().clone(),
    ));
    if let Some(d) = options.dry {
        tracing::warn!("Running experiment with dry {}", d.as_str());
    }
    experiment
}

/// The hypothesis and rollback strategies: the command line's, else the experiment's,
/// else the settings file's, else the default.
fn strategies(experiment: &Experiment, options: &RunOptions) -> (Strategy, RollbackStrategy) {
    let strategy = options
        .strategy
        .or(experiment.hypothesis_strategy)
        .or(options.settings.hypothesis_strategy)
        .unwrap_or(Strategy::Default);
    let rollback_strategy = options
        .rollback_strategy
        .or(experiment.rollback_strategy)
        .or(options.settings.rollback_strategy)
        .unwrap_or(RollbackStrategy::Default);
    tracing::info!("Steady-state strategy: {}", strategy.as_str());
    tracing::info!("Rollbacks strategy: {}", rollback_strategy.as_str());
    (strategy, rollback_strategy)
}

/// The rollbacks, their controls around them; a rollback that cannot run aborts the run.
fn play_rollbacks(ctx: &Arc<RunContext>, run: &RunHandle, status: &mut Option<Status>) {
    let journal = run.journal();
    let controls = &ctx.controls;
    let sink = RunSink {
        journal: journal.clone(),
        list: RunList::Rollbacks,
    };
    journal.record(|j| j.rollbacks.clear());
    let context = controls.experiment();
    controls.apply(
        Level::Rollback,
        Scope::Before,
        context,
        &[],
        &Value::Null,
        ctx,
    );
    // Interrupted already (the strategy still plays them): nothing stops them but the
    // second signal. Otherwise an interruption during the rollbacks ends them.
    let cancel = if run.cancel().is_cancelled() {
        Cancel::new()
    } else {
        run.cancel().clone()
    };
    match run_rollbacks(ctx, &sink, &cancel) {
        Ok(()) => {}
        Err(Abort::Interrupted) => {
            *status = Some(Status::Interrupted);
            tracing::warn!(
                "Received an exit signal. Terminating now without running the remaining rollbacks."
            );
        }
        Err(Abort::Fatal(msg)) => {
            *status = Some(Status::Aborted);
            critical!("{}", msg);
        }
    }
    if controls.applies(&[]) {
        let state = journal.record(|j| serde_json::to_value(&j.rollbacks).unwrap_or_default());
        let state = state.unwrap_or_default();
        controls.apply(Level::Rollback, Scope::After, context, &[], &state, ctx);
    }
}

/// Ends the journal (status, deviated, duration), then the controls, and logs how the
/// experiment ended; returns the final journal.
fn finish(
    ctx: &RunContext,
    run: &RunHandle,
    phases: &Phases,
    clock: Instant,
    experiment: Value,
    runnable: bool,
) -> Journal {
    let status = phases.status.unwrap_or(Status::Completed);
    let deviated = phases.deviated;
    let mut journal = run
        .journal()
        .record(|j| {
            j.end = Some(now());
            j.duration = Some(clock.elapsed().as_secs_f64());
            j.status = Some(status);
            j.deviated = deviated;
            j.clone()
        })
        .unwrap_or_else(|| Journal::new(experiment));
    let nested = &ctx.experiment.nested_controls;
    if runnable && (ctx.controls.applies(&[]) || !nested.is_empty()) {
        let state = serde_json::to_value(&journal).unwrap_or_default();
        if let Some(annotated) = ctx.controls.end(ctx, &state, nested) {
            journal.keep_added_keys(&annotated);
        }
    }
    if deviated {
        tracing::info!("Experiment ended with status: deviated");
        tracing::info!("The steady-state has deviated, a weakness may have been discovered");
    } else {
        tracing::info!("Experiment ended with status: {}", status.as_str());
    }
    journal
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
