//! Native drivers for `python` providers.
//!
//! The reference imports a Python module and calls a function; chaos-runner instead
//! looks the `module` + `func` pair up among drivers compiled into the binary.

#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod toxiproxy;

use crate::bridge::PythonBridge;
use crate::interrupt::Cancel;
use crate::run_io::RunIo;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One argument of a driver function, as `discover` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Argument {
    pub name: String,
    /// Python-style type name (`str`, `int`, `dict`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Absent when the argument is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    pub required: bool,
}

/// One callable function of a driver.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Function {
    pub module: String,
    pub name: String,
    /// `probe` or `action`.
    #[serde(rename = "type")]
    pub kind: String,
    pub doc: String,
    pub arguments: Vec<Argument>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The function ran and failed (chaostoolkit's ActivityFailed).
    #[error("{0}")]
    Failed(String),
    #[error("invalid argument '{name}': {reason}")]
    InvalidArgument { name: String, reason: String },
    #[error("unknown function {module}.{func}")]
    Unknown { module: String, func: String },
}

/// What a driver function runs with besides its arguments.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The experiment's configuration (a function writing into it writes into its own
    /// copy, as chaoslib hands each function a copy).
    pub configuration: &'a Map<String, Value>,
    /// The union of the secret scopes the provider lists.
    pub secrets: &'a Map<String, Value>,
    /// Environment variables from `.env` var files.
    pub env: &'a BTreeMap<String, String>,
    /// The run's I/O: its one async runtime and HTTP clients, and the environment
    /// variables activities exported for the rest of the run.
    pub io: &'a RunIo,
    /// Set on Ctrl-C: a driver waiting on I/O gives up.
    pub cancel: &'a Cancel,
}

impl Context<'_> {
    /// An environment variable as the reference's process would see it at this point
    /// of the run: set by an earlier activity, else from a `.env` var file, else this
    /// process's own.
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.io
            .exported
            .get(name)
            .or_else(|| self.env.get(name).cloned())
            .or_else(|| std::env::var(name).ok())
    }
}

/// A set of native functions callable from `python` providers.
pub trait Driver: Send + Sync {
    /// Short name shown by `discover` (e.g. `kubernetes`).
    fn name(&self) -> &str;
    /// The package it stands in for (e.g. `chaostoolkit-kubernetes`).
    fn package(&self) -> &str;
    /// Every function it implements.
    fn functions(&self) -> Vec<Function>;
    /// Functions of its package it leaves to the Python bridge, as (module, name).
    fn bridged(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Calls `module.func`; blocking.
    fn call(
        &self,
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
        context: &Context,
    ) -> Result<Value, DriverError>;
}

/// The drivers a run can dispatch to, and the Python bridge for every other module.
#[derive(Clone, Default)]
pub struct Registry {
    drivers: Vec<Arc<dyn Driver>>,
    bridge: Option<PythonBridge>,
    /// Module prefixes sent to the bridge even where a native driver exists.
    bridged: Vec<String>,
    /// A control nothing can run is skipped with a warning instead of stopping the
    /// experiment (`--skip-unrunnable-controls`).
    skip_unrunnable_controls: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.drivers.iter().map(|d| d.name()).collect();
        f.debug_struct("Registry")
            .field("drivers", &names)
            .field("bridge", &self.bridge.is_some())
            .field("bridged", &self.bridged)
            .finish()
    }
}

/// Who serves a `module.func`.
pub enum Route {
    Native(Arc<dyn Driver>, Function),
    Bridge(PythonBridge),
    /// No native driver has it and there is no bridge.
    Missing,
}

impl Registry {
    /// No drivers at all, and no bridge.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every driver built into chaos-runner, and the bridge (its interpreter found
    /// as [`crate::bridge::locate`] does, started only when first needed).
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        #[cfg(feature = "kubernetes")]
        r.register(Arc::new(kubernetes::KubernetesDriver::default()));
        r.register(Arc::new(toxiproxy::ToxiproxyDriver));
        r.bridge = Some(PythonBridge::default());
        r
    }

    pub fn register(&mut self, driver: Arc<dyn Driver>) {
        self.drivers.push(driver);
    }

    /// Uses `bridge` for modules without a native driver.
    pub fn with_bridge(mut self, bridge: PythonBridge) -> Self {
        self.bridge = Some(bridge);
        self
    }

    /// Sends `prefix` (a module, or a package and everything in it) to the bridge even
    /// where a native driver has it (`--python-bridge-for chaosk8s`).
    pub fn bridge_modules(mut self, prefix: impl Into<String>) -> Self {
        self.bridged.push(prefix.into());
        self
    }

    /// Skips controls that cannot be run (with a warning) instead of refusing the run.
    pub fn skip_unrunnable_controls(mut self, skip: bool) -> Self {
        self.skip_unrunnable_controls = skip;
        self
    }

    pub fn skips_unrunnable_controls(&self) -> bool {
        self.skip_unrunnable_controls
    }

    /// The bridge, if this registry has one.
    pub fn bridge(&self) -> Option<&PythonBridge> {
        self.bridge.as_ref()
    }

    /// Who serves `module.func`: a native driver that has that function (unless the
    /// module is sent to the bridge), else the bridge.
    pub fn route(&self, module: &str, func: &str) -> Route {
        let forced = self.bridged.iter().any(|p| {
            module == p
                || module
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        });
        if !forced && let Some((driver, function)) = self.lookup(module, func) {
            return Route::Native(driver, function);
        }
        match &self.bridge {
            Some(bridge) => Route::Bridge(bridge.clone()),
            None => Route::Missing,
        }
    }

    /// The driver and function spec serving `module.func`.
    pub fn lookup(&self, module: &str, func: &str) -> Option<(Arc<dyn Driver>, Function)> {
        self.drivers.iter().find_map(|d| {
            d.functions()
                .into_iter()
                .find(|f| f.module == module && f.name == func)
                .map(|f| (Arc::clone(d), f))
        })
    }

    pub fn has_module(&self, module: &str) -> bool {
        self.drivers
            .iter()
            .any(|d| d.functions().iter().any(|f| f.module == module))
    }

    /// `module.func` of everything available, for error messages.
    pub fn available(&self) -> String {
        let all: Vec<String> = self
            .drivers
            .iter()
            .flat_map(|d| d.functions())
            .map(|f| format!("{}.{}", f.module, f.name))
            .collect();
        if all.is_empty() {
            "none (no native driver functions are built in yet)".to_string()
        } else {
            all.join(", ")
        }
    }

    /// Why `module.func` cannot be called, listing what can.
    pub fn unknown_message(&self, module: &str, func: &str) -> String {
        if self.has_module(module) {
            format!(
                "module '{module}' has no function '{func}'; available functions: {}",
                self.available()
            )
        } else {
            let hint = if module.starts_with("chaosk8s") && !cfg!(feature = "kubernetes") {
                " (this chaos-runner was built without its `kubernetes` feature, which \
                 provides chaosk8s: build it with default features)"
            } else {
                ""
            };
            format!(
                "no native driver provides Python module '{module}'{hint}; available functions: {}",
                self.available()
            )
        }
    }

    /// What `chaos-runner discover` prints.
    pub fn discovery(&self) -> Value {
        let drivers: Vec<Value> = self
            .drivers
            .iter()
            .map(|d| {
                // Which way each function runs: the driver's own natively, the rest of
                // its package through the Python bridge.
                let activities: Vec<Value> = d
                    .functions()
                    .into_iter()
                    .map(|f| {
                        let mut v = serde_json::to_value(f).unwrap_or_default();
                        v["runs"] = Value::from("native");
                        v
                    })
                    .collect();
                let bridged: Vec<Value> = d
                    .bridged()
                    .into_iter()
                    .map(|(module, name)| {
                        serde_json::json!({"module": module, "name": name, "runs": "python-bridge"})
                    })
                    .collect();
                serde_json::json!({
                    "name": d.name(),
                    "package": d.package(),
                    "activities": activities,
                    "bridged": bridged,
                })
            })
            .collect();
        serde_json::json!({
            "chaoslib-version": crate::CHAOSLIB_COMPAT_VERSION,
            "chaos-runner-version": env!("CARGO_PKG_VERSION"),
            "providers": ["http", "process", "python"],
            "drivers": drivers,
        })
    }
}
