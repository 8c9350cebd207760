//! chaoslib's rules for controls, and whether each can be run.

use crate::bridge::{BridgeError, ControlCall, PythonBridge};
use crate::control::{Control, ControlEntry, ControlKind, ControlList, Declaration, Scope};
use crate::diagnostics::{Problems, pointer};
use serde_json::{Map, Value};

/// chaoslib's rules for one `controls` list (`at` its JSON pointer); `top` the names of
/// the top-level controls (what a `ref` may name). Whether each can be run is checked
/// by [`check_runnable`].
pub fn validate_list(list: &ControlList, at: &str, top: &[String], problems: &mut Problems) {
    let ControlList::Entries(entries) = list else {
        problems.add(at, "controls must be a list");
        return;
    };
    for (i, c) in entries.iter().enumerate() {
        let at = pointer(at, i);
        match c {
            ControlEntry::NotAMapping => problems.add(at, "a control must be a mapping"),
            ControlEntry::Ref(r) => {
                if !r.as_str().is_some_and(|r| top.iter().any(|t| t == r)) {
                    problems.add(
                        pointer(&at, "ref"),
                        format!(
                            "Control reference '{}' declaration cannot be found",
                            crate::python_value::py_str(r)
                        ),
                    );
                }
            }
            ControlEntry::Declaration(d) => validate_one(d, &at, problems),
        }
    }
}

/// One control's shape.
pub fn validate_one(c: &Declaration, at: &str, problems: &mut Problems) {
    let name = match c.name.as_deref() {
        Some(n) if !n.is_empty() => n,
        _ => {
            problems.add(pointer(at, "name"), "A control must have a `name` property");
            return;
        }
    };
    let Some(provider) = &c.provider else {
        problems.add(
            pointer(at, "provider"),
            format!("Control '{name}' must have a `provider` property"),
        );
        return;
    };
    if let Some(scope) = &c.scope
        && scope.as_str().and_then(Scope::from_name).is_none()
    {
        problems.add(
            pointer(at, "scope"),
            format!("Control '{name}' scope property must be 'before' or 'after' only"),
        );
    }
    let provider_at = pointer(at, "provider");
    if !provider.is_object() {
        problems.add(&provider_at, "a control's provider must be a mapping");
        return;
    }
    if c.provider_type.as_deref() == Some("python") && c.module.as_deref().is_none_or(str::is_empty)
    {
        problems.add(
            pointer(&provider_at, "module"),
            format!("Control '{name}' must have a module path"),
        );
    }
    if let Some(arguments) = &c.arguments
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
