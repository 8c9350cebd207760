//! The `python` provider: `module` + `func` dispatched to a native driver.
//!
//! Like the reference, the function receives the experiment's configuration and only
//! the secret scopes the provider lists under `secrets`.

use super::{ProviderContext, ProviderError, substituted};
use serde_json::{Map, Value};

pub fn run(provider: &Map<String, Value>, ctx: &ProviderContext) -> Result<Value, ProviderError> {
    let module = provider.get("module").and_then(Value::as_str).unwrap_or("");
    let func = provider.get("func").and_then(Value::as_str).unwrap_or("");
    let Some((driver, _spec)) = ctx.registry.lookup(module, func) else {
        return Err(ProviderError::Failed(
            ctx.registry.unknown_message(module, func),
        ));
    };
    let arguments = match provider.get("arguments").map(|a| substituted(a, ctx)) {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(ProviderError::Failed(
                "provider arguments must be a mapping".into(),
            ));
        }
    };
    let secrets = scoped_secrets(provider, ctx.secrets);
    let configuration = ctx.configuration.clone();
    let (module, func) = (module.to_string(), func.to_string());
    let outcome = ctx
        .cancel
        .run(move || driver.call(&module, &func, &arguments, &configuration, &secrets));
    match outcome {
        None => Err(ProviderError::Interrupted),
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(ProviderError::Failed(e.to_string())),
    }
}

/// The union of the secret scopes named by the provider's `secrets` list.
pub fn scoped_secrets(
    provider: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Array(scopes)) = provider.get("secrets") {
        for scope in scopes.iter().filter_map(Value::as_str) {
            if let Some(Value::Object(values)) = secrets.get(scope) {
                out.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    out
}
