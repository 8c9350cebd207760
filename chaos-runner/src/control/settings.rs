//! The Chaos Toolkit settings file (`~/.chaostoolkit/settings.yaml`, or `--settings`):
//! chaos-runner reads its `controls` (applied to every experiment).

use super::Control;
use crate::experiment::Format;
use crate::validate::Problems;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The settings, read.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// As written (what control hooks receive as `settings`).
    pub value: Value,
    pub controls: Vec<Arc<Control>>,
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
                let at = crate::validate::pointer("/controls", name);
                super::validate_one(control, &at, Some(name), &mut problems);
                if let Some(c) = Control::from_value(control, Some(name)) {
                    controls.push(Arc::new(c));
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
    Ok(Settings { value, controls })
}
