//! The `python` provider: `module` + `func` dispatched to a native driver.
//!
//! Like the reference, the function receives the experiment's configuration and only
//! the secret scopes the provider lists under `secrets`.

use super::{Output, ProviderContext, ProviderError, substituted};
use crate::drivers::Registry;
use crate::validate::{Problems, pointer};
use serde_json::{Map, Value};

/// A `python` provider, read after `${}` substitution of its `arguments` (only when the
/// run has configuration or secrets, as the reference does).
#[derive(Debug, Clone, PartialEq)]
pub struct PythonSpec {
    pub module: String,
    pub func: String,
    /// `None` when they are not a mapping (the activity then fails).
    pub arguments: Option<Map<String, Value>>,
    /// The secret scopes the function receives.
    pub secrets: Vec<String>,
}

/// `arguments` is a mapping, or absent / `null` (no arguments); `None` otherwise.
fn argument_map(arguments: Option<Value>) -> Option<Map<String, Value>> {
    match arguments {
        Some(Value::Object(m)) => Some(m),
        None | Some(Value::Null) => Some(Map::new()),
        Some(_) => None,
    }
}

impl PythonSpec {
    /// The `python` provider's rules (the function must be a built-in driver's, with its
    /// required arguments and no others); `at` is the provider's JSON pointer, `name`
    /// and `kind` the activity's.
    pub fn validate(
        p: &Map<String, Value>,
        at: &str,
        name: &str,
        kind: Option<&str>,
        registry: &Registry,
        problems: &mut Problems,
    ) {
        let module = p.get("module").and_then(Value::as_str).unwrap_or("");
        let func = p.get("func").and_then(Value::as_str).unwrap_or("");
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
        if !registry.has_module(module) {
            problems.add(
                pointer(at, "module"),
                format!(
                    "could not find Python module '{module}' in activity '{name}' ({})",
                    registry.unknown_message(module, func)
                ),
            );
            return;
        }
        let Some((_, function)) = registry.lookup(module, func) else {
            let kind = kind.unwrap_or("activity");
            problems.add(
                pointer(at, "func"),
                format!(
                    "The python module '{module}' does not expose a function called '{func}' in {kind} '{name}' ({})",
                    registry.unknown_message(module, func)
                ),
            );
            return;
        };
        let Some(args) = argument_map(p.get("arguments").cloned()) else {
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

    /// Reads the provider as written, substituting `${}` where the reference does.
    pub fn parse(p: &Map<String, Value>, ctx: &ProviderContext) -> PythonSpec {
        let text = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        PythonSpec {
            module: text("module"),
            func: text("func"),
            arguments: argument_map(p.get("arguments").map(|a| substituted(a, ctx))),
            secrets: match p.get("secrets") {
                Some(Value::Array(scopes)) => scopes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
}

/// Calls the driver function and returns its output.
pub fn run(spec: &PythonSpec, ctx: &ProviderContext) -> Result<Output, ProviderError> {
    let (module, func) = (spec.module.as_str(), spec.func.as_str());
    let Some((driver, _function)) = ctx.registry.lookup(module, func) else {
        return Err(ProviderError::Failed(
            ctx.registry.unknown_message(module, func),
        ));
    };
    let Some(arguments) = spec.arguments.clone() else {
        return Err(ProviderError::Failed(
            "provider arguments must be a mapping".into(),
        ));
    };
    let secrets = scoped_secrets(&spec.secrets, ctx.secrets);
    let configuration = ctx.configuration.clone();
    let (module, func) = (module.to_string(), func.to_string());
    // The driver runs on a thread of its own (so Ctrl-C need not wait for it); a panic
    // there is caught on that thread, or it would read as an interruption.
    let outcome = ctx.cancel.run(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            driver.call(&module, &func, &arguments, &configuration, &secrets)
        }))
        .map_err(|panic| super::unexpected(&panic))
    });
    match outcome {
        None => Err(ProviderError::Interrupted),
        Some(Ok(Ok(v))) => Ok(Output::Python(v)),
        Some(Ok(Err(e))) => Err(ProviderError::Failed(e.to_string())),
        Some(Err(unexpected)) => Err(ProviderError::Failed(unexpected)),
    }
}

/// The union of the named secret scopes.
pub fn scoped_secrets(scopes: &[String], secrets: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for scope in scopes {
        if let Some(Value::Object(values)) = secrets.get(scope) {
            out.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    out
}
