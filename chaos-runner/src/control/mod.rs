//! Controls: code that runs around the experiment, the hypothesis, the method, the
//! rollbacks and each activity (chaoslib's `controls`), and can stop the run.
//!
//! A control is declared in the experiment (top level, the hypothesis, an activity, or
//! a `ref` to a top-level one) or in the settings file. Python controls run through the
//! bridge, their hooks called as chaoslib calls them (`before_activity_control`, ...);
//! `chaosaddons.controls.safeguards` is native ([`safeguards`]). A hook that raises
//! chaoslib's `InterruptExecution`, or a safeguard probe out of its tolerance, stops the
//! run as the first Ctrl-C does: status `interrupted`, rollbacks as the strategy says.
//! A control that cannot be run stops the experiment before anything is done, unless
//! the user opted out ([`crate::drivers::Registry::skip_unrunnable_controls`]).

pub mod safeguards;
pub mod settings;

use crate::activity::RunContext;
use crate::bridge::{BridgeError, ControlCall, ControlOutcome, PythonBridge};
use crate::config::substitute;
use crate::interrupt::Cancel;
use crate::validate::{Problems, pointer};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, OnceLock};

/// The module chaos-runner runs natively instead of through the bridge.
pub const SAFEGUARDS_MODULE: &str = "chaosaddons.controls.safeguards";

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

/// Before or after what the level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Before,
    After,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Before => "before",
            Scope::After => "after",
        }
    }

    fn from_name(name: &str) -> Option<Scope> {
        match name {
            "before" => Some(Scope::Before),
            "after" => Some(Scope::After),
            _ => None,
        }
    }
}

/// What runs a control.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlKind {
    /// A Python module's hooks, through the bridge.
    Python { module: String },
    /// `chaosaddons.controls.safeguards`, natively: its `probes` argument.
    Safeguards { probes: Vec<Value> },
    /// A provider chaoslib does not run either (not `python`): ignored, as there.
    Other,
}

/// One control, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub name: String,
    /// Only this scope's hooks run (`None`: both).
    pub scope: Option<Scope>,
    /// Applied at every level below the experiment too (chaoslib's `automatic`).
    pub automatic: bool,
    pub kind: ControlKind,
    /// The provider's `arguments` (`${}` substituted when a hook runs).
    pub arguments: Map<String, Value>,
    /// As declared (what a control's own `validate_control` receives).
    pub declared: Value,
}

/// A control where it is declared: itself, or a `ref` to a top-level one by name.
#[derive(Debug, Clone, PartialEq)]
pub enum Declared {
    Inline(Arc<Control>),
    Ref(String),
}

impl Control {
    /// `None` when `value` is not a mapping with a name (validation reports it).
    pub fn from_value(value: &Value, name: Option<&str>) -> Option<Control> {
        let c = value.as_object()?;
        let name = name.or_else(|| c.get("name").and_then(Value::as_str))?;
        let provider = c.get("provider").and_then(Value::as_object);
        let arguments = provider
            .and_then(|p| p.get("arguments"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let module = provider
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("python"))
            .and_then(|p| p.get("module"))
            .and_then(Value::as_str);
        let kind = match module {
            Some(SAFEGUARDS_MODULE) => ControlKind::Safeguards {
                probes: arguments
                    .get("probes")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            },
            Some(module) => ControlKind::Python {
                module: module.to_string(),
            },
            None => ControlKind::Other,
        };
        Some(Control {
            name: name.to_string(),
            scope: c
                .get("scope")
                .and_then(Value::as_str)
                .and_then(Scope::from_name),
            automatic: c.get("automatic").and_then(Value::as_bool) != Some(false),
            kind,
            arguments,
            declared: value.clone(),
        })
    }
}

/// The controls of a `controls` list as written (entries that are neither a control
/// nor a `ref` are left to validation).
pub fn declared(list: Option<&Value>) -> Vec<Declared> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| match c.get("ref").and_then(Value::as_str) {
                    Some(name) => Some(Declared::Ref(name.to_string())),
                    None => Control::from_value(c, None).map(|c| Declared::Inline(Arc::new(c))),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// chaoslib's rules for one `controls` list (`at` its JSON pointer); `top` the names of
/// the top-level controls (what a `ref` may name). Whether each can be run is checked
/// by [`check_runnable`].
pub fn validate_list(list: &Value, at: &str, top: &[String], problems: &mut Problems) {
    let Some(items) = list.as_array() else {
        problems.add(at, "controls must be a list");
        return;
    };
    for (i, c) in items.iter().enumerate() {
        let at = pointer(at, i);
        let Some(map) = c.as_object() else {
            problems.add(at, "a control must be a mapping");
            continue;
        };
        if let Some(r) = map.get("ref") {
            if !r.as_str().is_some_and(|r| top.iter().any(|t| t == r)) {
                problems.add(
                    pointer(&at, "ref"),
                    format!(
                        "Control reference '{}' declaration cannot be found",
                        crate::pyvalue::py_str(r)
                    ),
                );
            }
            continue;
        }
        validate_one(c, &at, None, problems);
    }
}

/// One control's shape (`name` given for the settings file's, where the key names it).
pub fn validate_one(c: &Value, at: &str, name: Option<&str>, problems: &mut Problems) {
    let Some(map) = c.as_object() else {
        problems.add(at, "a control must be a mapping");
        return;
    };
    let name = match name.or_else(|| map.get("name").and_then(Value::as_str)) {
        Some(n) if !n.is_empty() => n,
        _ => {
            problems.add(pointer(at, "name"), "A control must have a `name` property");
            return;
        }
    };
    let Some(provider) = map.get("provider") else {
        problems.add(
            pointer(at, "provider"),
            format!("Control '{name}' must have a `provider` property"),
        );
        return;
    };
    if let Some(scope) = map.get("scope")
        && scope.as_str().and_then(Scope::from_name).is_none()
    {
        problems.add(
            pointer(at, "scope"),
            format!("Control '{name}' scope property must be 'before' or 'after' only"),
        );
    }
    let provider_at = pointer(at, "provider");
    let Some(provider) = provider.as_object() else {
        problems.add(&provider_at, "a control's provider must be a mapping");
        return;
    };
    if provider.get("type").and_then(Value::as_str) == Some("python")
        && provider
            .get("module")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        problems.add(
            pointer(&provider_at, "module"),
            format!("Control '{name}' must have a module path"),
        );
    }
    if let Some(arguments) = provider.get("arguments")
        && !arguments.is_object()
    {
        problems.add(
            pointer(&provider_at, "arguments"),
            format!("Control '{name}': arguments must be a mapping"),
        );
    }
}

/// Why a control cannot be run, if it cannot: its module does not import in the
/// bridge's interpreter, or there is none. Native and non-Python controls always can.
pub fn check_runnable(control: &Control, bridge: Option<&PythonBridge>) -> Result<(), String> {
    let ControlKind::Python { module } = &control.kind else {
        return Ok(());
    };
    let Some(bridge) = bridge else {
        return Err(format!(
            "control '{}' needs Python module '{module}' and this chaos-runner has no Python bridge",
            control.name
        ));
    };
    let none = Value::Null;
    let call = ControlCall {
        module,
        hook: "validate_control",
        arguments: &control.arguments,
        context: &none,
        state: &none,
        experiment: &none,
        configuration: &Map::new(),
        secrets: &Map::new(),
        settings: &none,
        control: &control.declared,
    };
    match bridge.control(&call) {
        Ok(_) => Ok(()),
        Err(BridgeError::Raised { message, .. })
            if message.starts_with("ModuleNotFoundError") || message.starts_with("ImportError") =>
        {
            Err(format!(
                "control '{}' cannot be run: its Python module '{module}' cannot be imported ({message})",
                control.name
            ))
        }
        // The control's own validate_control refused it.
        Err(BridgeError::Raised { message, .. }) => {
            Err(format!("control '{}' is invalid: {message}", control.name))
        }
        Err(e) => Err(format!("control '{}' cannot be run: {e}", control.name)),
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
    /// `global` from the settings file, `experiment` the experiment's value, `cancel`
    /// the run's.
    pub fn new(
        global: Vec<Arc<Control>>,
        experiment: &Value,
        settings: Value,
        bridge: Option<PythonBridge>,
        cancel: Cancel,
    ) -> Controls {
        let top = declared(experiment.get("controls"))
            .into_iter()
            .filter_map(|d| match d {
                Declared::Inline(c) => Some(c),
                Declared::Ref(_) => None,
            })
            .collect();
        Controls {
            global,
            top,
            bridge,
            experiment: experiment.clone(),
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
    /// `after`). A hook that raises `InterruptExecution` interrupts the run; other
    /// errors are logged and ignored, as chaoslib does.
    pub fn apply(
        &self,
        level: Level,
        scope: Scope,
        context: &Value,
        own: &[Declared],
        state: &Value,
        ctx: &RunContext,
    ) {
        if !self.applies(own) {
            return;
        }
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
            match self.call_hook(&control, &hook, &arguments, context, state, ctx) {
                Ok(ControlOutcome::Done) => {}
                Ok(ControlOutcome::Interrupt(message)) => {
                    tracing::debug!(
                        "{}-control '{}' interrupted the execution",
                        scope.as_str(),
                        control.name
                    );
                    self.interrupt(message);
                    return;
                }
                Err(e) => {
                    tracing::debug!("{}-control '{}' failed: {e}", scope.as_str(), control.name)
                }
            }
        }
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
    /// safeguards stopped, each control's `cleanup_control`.
    pub fn end(&self, ctx: &RunContext, journal: &Value, elsewhere: &[Declared]) {
        self.apply(
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
    }
}
