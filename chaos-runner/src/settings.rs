//! The Chaos Toolkit settings file (`~/.chaostoolkit/settings.yaml`, or `--settings`):
//! chaos-runner reads its `controls` (applied to every experiment).

use crate::control::{Control, Declaration};
use crate::diagnostics::{Problems, pointer};
use crate::experiment::Format;
use crate::strategy::{RollbackStrategy, Strategy};
use crate::validate::control::validate_one;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The settings, read.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// As written (what control hooks receive as `settings`).
    pub value: Value,
    pub controls: Vec<Arc<Control>>,
    /// `runtime.hypothesis.strategy` and `runtime.rollbacks.strategy`: used when
    /// neither the command line nor the experiment names one, as `chaos` does.
    pub hypothesis_strategy: Option<Strategy>,
    pub rollback_strategy: Option<RollbackStrategy>,
}

/// Where the reference reads its settings by default.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".chaostoolkit/settings.yaml"))
}

/// Reads `path`, else the default file if there is one. An explicit path must exist;
/// a control that breaks chaoslib's rules is an error naming the file and the control.
pub fn load(path: Option<&Path>) -> Result<Settings, String> {
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(Settings::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Settings::default());
        }
        Err(e) => {
            return Err(format!(
                "settings file {}: cannot read: {e}",
                path.display()
            ));
        }
    };
    let shown = path.display().to_string();
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        crate::experiment::parse(&shown, &text, Format::Yaml)
            .map_err(|e| format!("settings file {e}"))?
    };
    let mut problems = Problems::default();
    let mut controls = Vec::new();
    match value.get("controls") {
        None | Some(Value::Null) => {}
        Some(Value::Object(declared)) => {
            for (name, control) in declared {
                let at = pointer("/controls", name);
                match Declaration::from_value(control, Some(name)) {
                    None => problems.add(at, "a control must be a mapping"),
                    Some(declaration) => {
                        validate_one(&declaration, &at, &mut problems);
                        controls.extend(declaration.control.map(Arc::new));
                    }
                }
            }
        }
        Some(_) => problems.add(
            "/controls",
            "controls must be a mapping of names to controls",
        ),
    }
    let (found, _) = problems.into_parts();
    if let Some(first) = found.first() {
        return Err(format!("settings file {shown}: {first}"));
    }
    let strategy = |section: &str| {
        value
            .get("runtime")
            .and_then(|r| r.get(section))
            .and_then(|s| s.get("strategy"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    use clap::ValueEnum;
    let hypothesis_strategy = match strategy("hypothesis") {
        Some(name) => Some(Strategy::from_str(&name, false).map_err(|_| {
            format!(
                "settings file {shown}: /runtime/hypothesis/strategy: unknown strategy '{name}'"
            )
        })?),
        None => None,
    };
    let rollback_strategy = match strategy("rollbacks") {
        Some(name) => Some(RollbackStrategy::from_str(&name, false).map_err(|_| {
            format!("settings file {shown}: /runtime/rollbacks/strategy: unknown strategy '{name}'")
        })?),
        None => None,
    };
    Ok(Settings {
        value,
        controls,
        hypothesis_strategy,
        rollback_strategy,
    })
}
