//! The `python` provider: `module` + `func` dispatched to a native driver, or to the
//! Python bridge for every module no native driver has (or that the user sends there).
//!
//! Like the reference, the function receives the experiment's configuration and only
//! the secret scopes the provider lists under `secrets`.

use super::{Output, ProviderContext, ProviderError, substituted};
use crate::bridge::{BridgeError, Call};
use crate::drivers::{Context, Route};
use crate::provider::{Fields, argument_map};
use serde_json::{Map, Value};

/// A `python` provider, read after `${}` substitution of its `arguments` (only when the
/// run has configuration or secrets, as the reference does).
#[derive(Debug, Clone, PartialEq)]
pub struct PythonSpec {
    pub module: String,
    pub func: String,
    /// `None` when they are not a mapping (the activity then fails).
    pub arguments: Option<Map<String, Value>>,
    /// The secret scopes the function receives; `None` when the provider has no
    /// `secrets` key (a bridged function then gets no `secrets` argument, as in chaoslib).
    pub secrets: Option<Vec<String>>,
    /// Seconds the call may take (checked at validation, as a process's): past it the
    /// call is abandoned (and a bridged call's interpreter replaced).
    pub timeout: Option<f64>,
}

impl PythonSpec {
    /// Reads the provider as written, substituting `${}` where the reference does.
    pub fn parse(p: &Fields, ctx: &ProviderContext) -> PythonSpec {
        let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).unwrap_or("").to_string();
        PythonSpec {
            module: text(&p.module),
            func: text(&p.func),
            arguments: argument_map(p.arguments.as_ref().map(|a| substituted(a, ctx))),
            secrets: p.secrets.as_ref().map(|secrets| match secrets {
                Value::Array(scopes) => scopes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            }),
            timeout: p.timeout.as_ref().and_then(Value::as_f64),
        }
    }
}

/// Calls the function (natively or through the bridge) and returns its output.
pub fn run(spec: &PythonSpec, ctx: &ProviderContext) -> Result<Output, ProviderError> {
    let (module, func) = (spec.module.as_str(), spec.func.as_str());
    let missing = || ProviderError::Failed(ctx.registry.unknown_message(module, func));
    let route = ctx.registry.route(module, func);
    if let Route::Missing = route {
        return Err(missing());
    }
    let Some(arguments) = spec.arguments.clone() else {
        return Err(ProviderError::Failed(
            "provider arguments must be a mapping".into(),
        ));
    };
    let configuration = ctx.configuration.clone();
    let (module, func) = (module.to_string(), func.to_string());
    // Unchecked with --no-validation: a timeout out of range fails the activity.
    let timeout = spec
        .timeout
        .map(|t| {
            crate::duration::check(t)
                .map(|()| t)
                .map_err(|why| ProviderError::Failed(format!("the Python timeout {why}")))
        })
        .transpose()?;
    let limit = timeout.map(std::time::Duration::from_secs_f64);
    // The call runs on a thread of its own (so Ctrl-C need not wait for it); a panic
    // there is caught on that thread, or it would read as an interruption.
    let outcome = match route {
        Route::Native(driver, _) => {
            let secrets = scoped_secrets(spec.secrets.as_deref().unwrap_or_default(), ctx.secrets);
            let (env, io, cancel) = (ctx.env.clone(), ctx.io.clone(), ctx.cancel.clone());
            // A native call cannot be stopped: past its timeout it is left to finish
            // on its own thread, its result dropped.
            let ended = ctx.cancel.run_within(limit, move || {
                let context = Context {
                    configuration: &configuration,
                    secrets: &secrets,
                    env: &env,
                    io: &io,
                    cancel: &cancel,
                };
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    driver
                        .call(&module, &func, &arguments, &context)
                        .map_err(|e| ProviderError::Failed(e.to_string()))
                }))
                .map_err(|panic| ProviderError::Failed(super::unexpected(&panic)))
            });
            ended.map_err(|_| {
                ProviderError::Failed(format!(
                    "the function did not return within {} s: its call was abandoned",
                    timeout.unwrap_or_default()
                ))
            })?
        }
        Route::Bridge(bridge) => {
            let secrets = spec
                .secrets
                .as_deref()
                .map(|s| scoped_secrets(s, ctx.secrets));
            let environment = ctx.io.exported.snapshot();
            ctx.cancel.run(move || {
                let call = Call {
                    module: &module,
                    func: &func,
                    arguments: &arguments,
                    configuration: &configuration,
                    secrets: secrets.as_ref(),
                    environment: &environment,
                };
                Ok(bridge.call_within(&call, timeout).map_err(|e| match e {
                    BridgeError::Raised { message, traceback } => {
                        ProviderError::Raised { message, traceback }
                    }
                    other => ProviderError::Failed(other.to_string()),
                }))
            })
        }
        Route::Missing => return Err(missing()),
    };
    match outcome {
        None => Err(ProviderError::Interrupted),
        // An exit asked for during the call (by it, most often) stops the activity where
        // it is, as the reference's exit is raised in the thread running the method; the
        // method's background activities have a cancellation of their own that a
        // graceful exit leaves alone.
        Some(_) if ctx.cancel.exit_requested().is_some() => Err(ProviderError::Interrupted),
        Some(Ok(Ok(v))) => Ok(Output::Python(v)),
        Some(Ok(Err(e)) | Err(e)) => Err(e),
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
