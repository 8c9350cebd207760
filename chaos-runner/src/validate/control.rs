//! chaoslib's rules for controls, and whether each can be run.

use crate::bridge::{BridgeError, ControlCall, PythonBridge};
use crate::control::{Control, ControlKind, Scope};
use crate::diagnostics::{Problems, pointer};
use serde_json::{Map, Value};

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
                        crate::python_value::py_str(r)
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
