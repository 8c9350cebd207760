//! Controls at run time: each hook called where the run is (chaoslib's
//! `before_activity_control`, ...), Python ones through the bridge, safeguards natively
//! ([`super::safeguards`]). A hook that raises chaoslib's `InterruptExecution`, or a
//! safeguard probe out of its tolerance, stops the run as the first Ctrl-C does: status
//! `interrupted`, rollbacks as the strategy says. A control that cannot be run stops the
//! experiment before anything is done, unless the user opted out
//! ([`crate::drivers::Registry::skip_unrunnable_controls`]).

use super::context::RunContext;
use super::safeguards;
use crate::bridge::{BridgeError, ControlCall, ControlOutcome, PythonBridge};
use crate::config::substitute;
use crate::control::{Control, ControlKind, Declared, Scope};
use crate::interrupt::Cancel;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, OnceLock};

/// Where in the run a hook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Experiment,
    Hypothesis,
    Method,
    Rollback,
    Activity,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Experiment => "experiment",
            Level::Hypothesis => "hypothesis",
            Level::Method => "method",
            Level::Rollback => "rollback",
            Level::Activity => "activity",
        }
    }
}

/// The run's controls: what the settings and the experiment declare, and the state of
/// the native ones. Cheap when there are none.
#[derive(Debug, Default)]
pub struct Controls {
    global: Vec<Arc<Control>>,
    top: Vec<Arc<Control>>,
    bridge: Option<PythonBridge>,
    /// The experiment as the journal has it (what hooks receive as `experiment`).
    experiment: Value,
    settings: Value,
    /// The run's cancellation: an interruption by a control cancels it.
    cancel: Cancel,
    /// The message of the control that interrupted the run (set once).
    interrupted: OnceLock<String>,
    guardians: Mutex<Vec<safeguards::Guardian>>,
}

impl Controls {
    /// `global` from the settings file, `top` the experiment's top-level controls,
    /// `experiment` the experiment as the journal has it, `cancel` the run's.
    pub fn new(
        global: Vec<Arc<Control>>,
        top: &[Declared],
        experiment: Value,
        settings: Value,
        bridge: Option<PythonBridge>,
        cancel: Cancel,
    ) -> Controls {
        let top = top
            .iter()
            .filter_map(|d| match d {
                Declared::Inline(c) => Some(Arc::clone(c)),
                Declared::Ref(_) => None,
            })
            .collect();
        Controls {
            global,
            top,
            bridge,
            experiment,
            settings,
            cancel,
            ..Controls::default()
        }
    }

    /// Every distinct control the run may apply (by name), for start-up checks.
    pub fn all<'a>(&'a self, elsewhere: &'a [Declared]) -> Vec<Arc<Control>> {
        let mut out: Vec<Arc<Control>> = Vec::new();
        let inline = elsewhere.iter().filter_map(|d| match d {
            Declared::Inline(c) => Some(c),
            Declared::Ref(_) => None,
        });
        for c in self.global.iter().chain(&self.top).chain(inline) {
            if !out.iter().any(|o| o.name == c.name) {
                out.push(Arc::clone(c));
            }
        }
        out
    }

    /// The run's cancellation (what safeguard probes run with).
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }

    /// Calls `hook` of a Python control (`Ok(Done)` for the others).
    fn call_hook(
        &self,
        control: &Control,
        hook: &str,
        arguments: &Map<String, Value>,
        context: &Value,
        state: &Value,
        ctx: &RunContext,
    ) -> Result<ControlOutcome, BridgeError> {
        let (ControlKind::Python { module }, Some(bridge)) = (&control.kind, &self.bridge) else {
            return Ok(ControlOutcome::Done);
        };
        bridge.control(&ControlCall {
            module,
            hook,
            arguments,
            context,
            state,
            experiment: &self.experiment,
            configuration: &ctx.configuration,
            secrets: &ctx.secrets,
            settings: &self.settings,
            control: &control.declared,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.global.is_empty() && self.top.is_empty()
    }

    /// Whether any control applies where `own` are declared (hooks are skipped, and
    /// their state not even built, when none does).
    pub fn applies(&self, own: &[Declared]) -> bool {
        !(self.is_empty() && own.is_empty())
    }

    /// The experiment as hooks receive it (the context of the experiment, method and
    /// rollback levels).
    pub fn experiment(&self) -> &Value {
        &self.experiment
    }

    /// The message of the control that stopped the run, if one did.
    pub fn interruption(&self) -> Option<&str> {
        self.interrupted.get().map(String::as_str)
    }

    /// Stops the run (once): logged as chaoslib logs an `InterruptExecution`.
    pub fn interrupt(&self, message: String) {
        if self.interrupted.set(message.clone()).is_ok() {
            crate::critical!("{}", message);
            self.cancel.cancel();
        }
    }

    /// The controls that apply at `level` where `own` are declared: the settings', the
    /// top-level automatic ones (all of them at the experiment level), then `own`
    /// (`ref`s resolved), each once by name.
    fn at(&self, level: Level, own: &[Declared]) -> Vec<Arc<Control>> {
        let mut out: Vec<Arc<Control>> = Vec::new();
        let mut push = |c: &Arc<Control>| {
            if !out.iter().any(|o| o.name == c.name) {
                out.push(Arc::clone(c));
            }
        };
        self.global.iter().for_each(&mut push);
        self.top
            .iter()
            .filter(|c| level == Level::Experiment || c.automatic)
            .for_each(&mut push);
        for d in own {
            match d {
                Declared::Inline(c) => push(c),
                Declared::Ref(name) => {
                    if let Some(c) = self.top.iter().find(|c| &c.name == name) {
                        push(c);
                    }
                }
            }
        }
        out
    }

    /// Calls every applicable Python control's hook for `level` and `scope`. `context`
    /// is the activity, hypothesis or experiment; `state` what the level produced (on
    /// `after`). A hook that raises `InterruptExecution` interrupts the run, one that
    /// calls chaoslib's exit functions has already cancelled it (the bridge did): the
    /// controls after it are not called. Other errors are logged and ignored, as
    /// chaoslib does. Returns the state as the hooks left it, when one sent it back
    /// (`after_experiment_control`: the journal, which a control may add keys to).
    pub fn apply(
        &self,
        level: Level,
        scope: Scope,
        context: &Value,
        own: &[Declared],
        state: &Value,
        ctx: &RunContext,
    ) -> Option<Value> {
        if !self.applies(own) {
            return None;
        }
        let mut changed: Option<Value> = None;
        let exited_already = self.cancel.exit_requested().is_some();
        let hook = format!("{}_{}_control", scope.as_str(), level.as_str());
        for control in self.at(level, own) {
            if control.scope.is_some_and(|s| s != scope) {
                continue;
            }
            if !matches!(control.kind, ControlKind::Python { .. }) {
                continue;
            }
            tracing::debug!(
                "Applying {}-control '{}' on '{}'",
                scope.as_str(),
                control.name,
                level.as_str()
            );
            let arguments = match substitute(
                &Value::Object(control.arguments.clone()),
                &ctx.configuration,
                &ctx.secrets,
            ) {
                Value::Object(a) => a,
                _ => control.arguments.clone(),
            };
            let state = changed.as_ref().unwrap_or(state);
            match self.call_hook(&control, &hook, &arguments, context, state, ctx) {
                Ok(ControlOutcome::Done) => {}
                Ok(ControlOutcome::State(state)) => changed = Some(state),
                Ok(ControlOutcome::Interrupt(message)) => {
                    tracing::debug!(
                        "{}-control '{}' interrupted the execution",
                        scope.as_str(),
                        control.name
                    );
                    self.interrupt(message);
                    return changed;
                }
                Err(e) => {
                    tracing::debug!("{}-control '{}' failed: {e}", scope.as_str(), control.name)
                }
            }
            if !exited_already && self.cancel.exit_requested().is_some() {
                // In the reference the exit is raised in the hook itself: no other
                // control of this level is called.
                tracing::debug!(
                    "{}-control '{}' asked the run to exit",
                    scope.as_str(),
                    control.name
                );
                return changed;
            }
        }
        changed
    }

    /// Before anything runs: each control's `configure_control`, then the experiment's
    /// `before` hooks, and the native safeguards started (their pre-checks run now and
    /// must pass). `elsewhere`: the controls declared on the hypothesis and activities.
    pub fn begin(&self, ctx: &Arc<RunContext>, elsewhere: &[Declared]) {
        for control in self.all(elsewhere) {
            if let ControlKind::Safeguards { probes } = &control.kind {
                let guardian = safeguards::Guardian::start(probes, ctx);
                self.guardians
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(guardian);
            } else if let Err(e) = self.call_hook(
                &control,
                "configure_control",
                &control.arguments,
                &Value::Null,
                &Value::Null,
                ctx,
            ) {
                tracing::debug!("Control initialization '{}' failed: {e}", control.name);
            }
        }
        self.apply(
            Level::Experiment,
            Scope::Before,
            &self.experiment,
            &[],
            &Value::Null,
            ctx,
        );
    }

    /// After everything: the experiment's `after` hooks with the journal as state, the
    /// safeguards stopped, each control's `cleanup_control`. Returns the journal as the
    /// hooks left it, if one sent it back.
    pub fn end(&self, ctx: &RunContext, journal: &Value, elsewhere: &[Declared]) -> Option<Value> {
        let annotated = self.apply(
            Level::Experiment,
            Scope::After,
            &self.experiment,
            &[],
            journal,
            ctx,
        );
        let guardians =
            std::mem::take(&mut *self.guardians.lock().unwrap_or_else(|p| p.into_inner()));
        for guardian in guardians {
            guardian.stop();
        }
        for control in self.all(elsewhere) {
            let cleaned = self.call_hook(
                &control,
                "cleanup_control",
                &control.arguments,
                &Value::Null,
                &Value::Null,
                ctx,
            );
            if let Err(e) = cleaned {
                tracing::debug!("Control cleanup '{}' failed: {e}", control.name);
            }
        }
        annotated
    }
}
