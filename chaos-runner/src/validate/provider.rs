//! The rules of an activity's `provider`, then its kind's: `http`, `process`, `python`.

use crate::bridge::{BridgeError, Check, CheckProblem};
use crate::diagnostics::{Problems, pointer};
use crate::drivers::{Function, Registry, Route};
use crate::provider::{Fields, Provider, ProviderKind, argument_map, which};
use crate::python_value::py_truthy;
use serde_json::Value;

/// The rules of an activity's `provider` (`written` as written, `provider` as read;
/// `at` its JSON pointer), then its kind's. `name` and `kind` are the activity's, for
/// messages.
pub fn validate(
    written: Option<&Value>,
    provider: Option<&Provider>,
    at: &str,
    name: &str,
    kind: Option<&str>,
    registry: &Registry,
    problems: &mut Problems,
) {
    if !written.is_some_and(py_truthy) {
        problems.add(at, "an activity requires a provider");
        return;
    }
    let Some(provider) = provider else {
        problems.add(at, "a provider must be a mapping");
        return;
    };
    let p = &provider.fields;
    match &provider.kind {
        Err(t) if t.is_empty() => problems.add(pointer(at, "type"), "a provider must have a type"),
        Ok(ProviderKind::Python) => python(p, at, name, kind, registry, problems),
        Ok(ProviderKind::Process) => process(p, at, name, problems),
        Ok(ProviderKind::Http) => http(p, at, problems),
        Err(t) => problems.add(pointer(at, "type"), format!("unknown provider type '{t}'")),
    }
}

/// The `http` provider's rules; `at` is the provider's JSON pointer.
fn http(p: &Fields, at: &str, problems: &mut Problems) {
    if !p.url.as_ref().is_some_and(py_truthy) {
        problems.add(pointer(at, "url"), "a HTTP activity must have a URL");
    }
    if let Some(h) = p.headers.as_ref()
        && py_truthy(h)
        && !h.is_object()
    {
        problems.add(
            pointer(at, "headers"),
            "a HTTP activities expect headers as a mapping",
        );
    }
    if let Some(t) = p.timeout.as_ref().filter(|t| !t.is_null())
        && !timeout_is_valid(t)
    {
        problems.add(
            pointer(at, "timeout"),
            "a HTTP timeout must be a number or a [connect, read] pair",
        );
    } else if let Some(why) = p.timeout.as_ref().and_then(timeout_range_problem) {
        problems.add(pointer(at, "timeout"), format!("a HTTP timeout {why}"));
    }
    if let Some(es) = p.expected_status.as_ref().filter(|v| !v.is_null())
        && !expected_status_is_valid(es)
    {
        problems.add(
            pointer(at, "expected_status"),
            "expected_status must be an HTTP status or a list of them",
        );
    }
    if let Some(m) = p.method.as_ref()
        && !m.is_string()
    {
        problems.add(pointer(at, "method"), "a HTTP method must be a string");
    }
}

/// The shapes an `http` provider's `timeout` may have; a `${name}` is resolved at run
/// time.
fn timeout_is_valid(t: &Value) -> bool {
    match t {
        Value::Number(_) => true,
        Value::String(s) => s.starts_with("${") && s.ends_with('}'),
        Value::Array(pair) => pair.len() == 2 && pair.iter().all(Value::is_number),
        _ => false,
    }
}

/// Why a well-shaped timeout's numbers cannot be durations, if they cannot.
fn timeout_range_problem(t: &Value) -> Option<String> {
    let numbers: Vec<&Value> = match t {
        Value::Array(pair) => pair.iter().collect(),
        other => vec![other],
    };
    numbers
        .into_iter()
        .filter_map(Value::as_f64)
        .find_map(|f| crate::duration::check(f).err())
}

/// `expected_status` (a chaos-runner extension): a status or a non-empty list of them.
fn expected_status_is_valid(v: &Value) -> bool {
    let is_status = |v: &Value| v.as_u64().is_some_and(|n| (100..=599).contains(&n));
    is_status(v)
        || v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(is_status))
}

/// The `process` provider's rules; `at` is the provider's JSON pointer, `name` the
/// activity's.
fn process(p: &Fields, at: &str, name: &str, problems: &mut Problems) {
    let path = p.path.as_ref().and_then(Value::as_str).unwrap_or("");
    if path.is_empty() {
        problems.add(pointer(at, "path"), "a process activity must have a path");
        return;
    }
    if which(path).is_none() {
        problems.add(
            pointer(at, "path"),
            format!("path '{path}' cannot be found, in activity '{name}'"),
        );
    }
    if let Some(why) = p
        .timeout
        .as_ref()
        .filter(|t| !t.is_null())
        .and_then(|t| crate::duration::problem(t, "a process timeout"))
    {
        problems.add(pointer(at, "timeout"), why);
    }
    if let Some(env) = p.env.as_ref().filter(|e| !e.is_null())
        && !env.is_object()
    {
        problems.add(pointer(at, "env"), "a process env must be a mapping");
    }
}

/// The `python` provider's rules: a native driver's function with its required
/// arguments and no others, or, through the bridge, chaoslib's checks (the module
/// imports, the function exists, the arguments bind to its signature; a warning when
/// no interpreter can check them). `at` is the provider's JSON pointer, `name` and
/// `kind` the activity's.
fn python(
    p: &Fields,
    at: &str,
    name: &str,
    kind: Option<&str>,
    registry: &Registry,
    problems: &mut Problems,
) {
    if let Some(why) = p
        .timeout
        .as_ref()
        .filter(|t| !t.is_null())
        .and_then(|t| crate::duration::problem(t, "a Python timeout"))
    {
        problems.add(pointer(at, "timeout"), why);
    }
    let module = p.module.as_ref().and_then(Value::as_str).unwrap_or("");
    let func = p.func.as_ref().and_then(Value::as_str).unwrap_or("");
    if module.is_empty() {
        problems.add(
            pointer(at, "module"),
            "a Python activity must have a module path",
        );
    }
    if func.is_empty() {
        problems.add(
            pointer(at, "func"),
            "a Python activity must have a function name",
        );
    }
    if module.is_empty() || func.is_empty() {
        return;
    }
    match registry.route(module, func) {
        Route::Native(_, function) => {
            native_arguments(p, at, name, &function, problems);
        }
        Route::Bridge(bridge) => {
            let Some(args) = argument_map(p.arguments.clone()) else {
                problems.add(
                    pointer(at, "arguments"),
                    "python provider arguments must be a mapping",
                );
                return;
            };
            let names: Vec<String> = args.keys().cloned().collect();
            let check = Check {
                module,
                func,
                arguments: &names,
                name,
                kind: kind.unwrap_or("activity"),
            };
            match bridge.check(&check) {
                Ok(found) => {
                    for CheckProblem(field, message) in found {
                        // A native module's function we lack, and Python lacks the
                        // package too: the native list says what can be called.
                        if field == "module" && registry.has_module(module) {
                            unknown(at, module, func, name, kind, registry, problems);
                        } else {
                            problems.add(pointer(at, &field), message);
                        }
                    }
                }
                Err(BridgeError::Unavailable(why)) if !registry.has_module(module) => {
                    problems.warn(format!(
                        "{at}: module '{module}' of activity '{name}' has no native driver and could not be checked: {why}; the activity will fail if it runs"
                    ));
                }
                Err(BridgeError::Unavailable(_)) => {
                    unknown(at, module, func, name, kind, registry, problems);
                }
                Err(e) => problems.add(
                    pointer(at, "module"),
                    format!("cannot check '{module}.{func}' of activity '{name}' with Python: {e}"),
                ),
            }
        }
        Route::Missing => unknown(at, module, func, name, kind, registry, problems),
    }
}

/// The native driver's rules for `arguments`: its required ones present, no others.
fn native_arguments(
    p: &Fields,
    at: &str,
    name: &str,
    function: &Function,
    problems: &mut Problems,
) {
    let Some(args) = argument_map(p.arguments.clone()) else {
        problems.add(
            pointer(at, "arguments"),
            "python provider arguments must be a mapping",
        );
        return;
    };
    for required in function.arguments.iter().filter(|a| a.required) {
        if matches!(required.name.as_str(), "configuration" | "secrets") {
            continue;
        }
        if !args.contains_key(&required.name) {
            problems.add(
                pointer(at, "arguments"),
                format!(
                    "required argument '{}' is missing from activity '{name}'",
                    required.name
                ),
            );
        }
    }
    for key in args.keys() {
        if !function.arguments.iter().any(|a| &a.name == key) {
            problems.add(
                pointer(&pointer(at, "arguments"), key),
                format!(
                    "argument {key} is not part of the function signature in activity '{name}'"
                ),
            );
        }
    }
}

/// Neither a native driver nor Python can serve `module.func`.
fn unknown(
    at: &str,
    module: &str,
    func: &str,
    name: &str,
    kind: Option<&str>,
    registry: &Registry,
    problems: &mut Problems,
) {
    if registry.has_module(module) {
        let kind = kind.unwrap_or("activity");
        problems.add(
            pointer(at, "func"),
            format!(
                "The python module '{module}' does not expose a function called '{func}' in {kind} '{name}' ({})",
                registry.unknown_message(module, func)
            ),
        );
    } else {
        problems.add(
            pointer(at, "module"),
            format!(
                "could not find Python module '{module}' in activity '{name}' ({})",
                registry.unknown_message(module, func)
            ),
        );
    }
}
