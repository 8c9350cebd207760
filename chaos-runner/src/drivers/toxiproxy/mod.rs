//! The Toxiproxy driver: every function of chaostoolkit-toxiproxy 0.3.1 (modules
//! `chaostoxi.proxy.actions`, `chaostoxi.proxy.probes`, `chaostoxi.toxic.actions`),
//! natively, against any server speaking Toxiproxy's HTTP API.
//!
//! Each function returns what the extension returns and fails where it fails, with the
//! same message (`AssertionError` when a proxy cannot be created or changed, Python's
//! `TypeError` when a toxic cannot be created, `KeyError` for a missing attribute or
//! environment variable); why is logged. What differs is listed in the crate README
//! ("Deliberate differences"): arguments are type- and range-checked before any
//! request, and an unreachable server is named in our own words.

mod api;
mod args;
mod catalog;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Context, Driver, DriverError, Function};
use crate::python_value::{py_repr, py_truthy};
use api::Api;
use args::{CreateProxy, ModifyProxy, NewToxic, Port, Request};

/// The driver; it holds nothing: the client and runtime are the run's ([`Context::io`]).
#[derive(Debug, Default)]
pub struct ToxiproxyDriver;

impl Driver for ToxiproxyDriver {
    fn name(&self) -> &str {
        "toxiproxy"
    }

    fn package(&self) -> &str {
        "chaostoolkit-toxiproxy"
    }

    fn functions(&self) -> Vec<Function> {
        catalog::functions()
    }

    fn call(
        &self,
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
        context: &Context,
    ) -> Result<Value, DriverError> {
        // Bad arguments fail before any request.
        let request = Request::parse(module, func, arguments)?;
        let api = Api::new(context)?;
        match request {
            Request::CreateProxy(c) => create_proxy(&api, &c, context),
            Request::ModifyProxy(m) => modify_proxy(&api, &m, context),
            Request::DeleteProxy { name } => Ok(delete_proxy(&api, &name)),
            Request::Reset => {
                let reply = api.send(Method::POST, &api.at("reset"), None)?;
                Ok(Value::Bool(reply.ok()))
            }
            Request::ProxyExist { name } => proxy_exist(&api, &name),
            Request::GetProxyAttribute { name, attribute } => {
                get_proxy_attribute(&api, &name, &attribute)
            }
            Request::CreateToxic(t) => create_toxic(&api, &t),
            Request::DeleteToxic { proxy, name } => {
                let url = format!("{}/toxics/{name}", api.proxy(&proxy));
                Ok(Value::Bool(api.send(Method::DELETE, &url, None)?.ok()))
            }
        }
    }
}

/// The extension's failure when a proxy cannot be created or changed (a bare
/// `raise AssertionError`).
fn assertion_error() -> DriverError {
    DriverError::Failed("AssertionError".into())
}

/// `value[key]` as Python evaluates it on a decoded JSON answer, failing as Python does.
fn subscript<'v>(value: &'v Value, key: &str) -> Result<&'v Value, DriverError> {
    let python_type = match value {
        Value::Object(o) => {
            return o
                .get(key)
                .ok_or_else(|| DriverError::Failed(format!("KeyError: {}", py_repr(&json!(key)))));
        }
        Value::Null => "'NoneType' object is not subscriptable",
        Value::Bool(_) => "'bool' object is not subscriptable",
        Value::Number(n) if n.is_f64() => "'float' object is not subscriptable",
        Value::Number(_) => "'int' object is not subscriptable",
        Value::String(_) => "string indices must be integers, not 'str'",
        Value::Array(_) => "list indices must be integers or slices, not str",
    };
    Err(DriverError::Failed(format!("TypeError: {python_type}")))
}

/// The text after the last `:` of a proxy's `listen` (its port).
fn listen_port(proxy: &Value) -> Result<String, DriverError> {
    match subscript(proxy, "listen")? {
        Value::String(listen) => Ok(listen.rsplit(':').next().unwrap_or_default().to_string()),
        other => Err(DriverError::Failed(format!(
            "AttributeError: {} object has no attribute 'split'",
            py_repr(&json!(python_type_name(other)))
        ))),
    }
}

fn python_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `env:NAME` read from the environment the reference's process would have (a missing
/// variable fails as its `os.environ[NAME]` does); anything else as written.
fn from_environment(value: &str, context: &Context) -> Result<String, DriverError> {
    match value.strip_prefix("env:") {
        Some(name) => {
            tracing::debug!("Resolving from environment variable: {name}");
            context
                .env_var(name)
                .ok_or_else(|| DriverError::Failed(format!("KeyError: {}", py_repr(&json!(name)))))
        }
        None => Ok(value.to_string()),
    }
}

/// `<proxy>_PORT`, which the extension writes into its process environment (and into
/// the configuration copy it was handed, where nothing later sees it).
fn export_port(context: &Context, proxy: &str, port: String) {
    let name = format!("{proxy}_PORT");
    tracing::debug!("Exporting {name}={port} for the rest of the run");
    context.io.exported.set(name, port);
}

fn create_proxy(api: &Api, c: &CreateProxy, context: &Context) -> Result<Value, DriverError> {
    let upstream_host = from_environment(&c.upstream_host, context)?;
    let upstream_port = match &c.upstream_port {
        Port::Text(text) => from_environment(text, context)?,
        Port::Number(n) => n.to_string(),
    };
    let body = json!({
        "name": c.name,
        "listen": format!("{}:{}", c.listen_host, c.listen_port),
        "upstream": format!("{upstream_host}:{upstream_port}"),
        "enabled": c.enabled,
    });
    tracing::debug!("Creating proxy with the following configuration: {body}");
    let reply = api.send(Method::POST, &api.proxies(), Some(&body))?;
    if !reply.ok() {
        tracing::error!(
            "Unable to create proxy '{}': the Toxiproxy API answered {} {}",
            c.name,
            reply.status,
            reply.text()
        );
        return Err(assertion_error());
    }
    let proxy = reply.json()?;
    if !py_truthy(&proxy) {
        return Err(assertion_error());
    }
    let port = listen_port(&proxy)?;
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        tracing::error!("Unable to parse port from proxy response {proxy}");
        return Err(assertion_error());
    }
    export_port(context, &c.name, port);
    Ok(Value::Bool(true))
}

fn modify_proxy(api: &Api, m: &ModifyProxy, context: &Context) -> Result<Value, DriverError> {
    let mut body = Map::new();
    if let Some(listen) = &m.listen {
        body.insert("listen".into(), json!(listen));
    }
    if let Some(upstream) = &m.upstream {
        body.insert("upstream".into(), json!(upstream));
    }
    if let Some(enabled) = m.enabled {
        body.insert("enabled".into(), json!(enabled));
    }
    let body = Value::Object(body);
    tracing::debug!("Modifying proxy with the following data: {body}");
    let reply = api.send(Method::POST, &api.proxy(&m.name), Some(&body))?;
    let proxy = if reply.ok() {
        reply.json()?
    } else {
        Value::Null
    };
    if !py_truthy(&proxy) {
        tracing::error!(
            "Unable to modify proxy '{}': the Toxiproxy API answered {} {}",
            m.name,
            reply.status,
            reply.text()
        );
        return Err(assertion_error());
    }
    let port = listen_port(&proxy)?;
    export_port(context, &m.name, port);
    Ok(Value::Bool(true))
}

/// Never fails: the extension only logs what went wrong, and returns nothing.
fn delete_proxy(api: &Api, name: &str) -> Value {
    let url = api.proxy(name);
    match api.send(Method::DELETE, &url, None) {
        Ok(reply) if reply.ok() => {}
        Ok(reply) => tracing::warn!(
            "Unable to remove proxy with {url}: the Toxiproxy API answered {} {}",
            reply.status,
            reply.text()
        ),
        Err(e) => tracing::warn!("Unable to remove proxy with {url}: {e}"),
    }
    Value::Null
}

/// The proxy as the server describes it; null when the answer is an error status.
fn read_proxy(api: &Api, name: &str) -> Result<Value, DriverError> {
    let reply = api.send(Method::GET, &api.proxy(name), None)?;
    if reply.ok() {
        reply.json()
    } else {
        Ok(Value::Null)
    }
}

fn proxy_exist(api: &Api, name: &str) -> Result<Value, DriverError> {
    let proxy = read_proxy(api, name)?;
    if !py_truthy(&proxy) {
        tracing::debug!("Proxy with name {name} does not seem to exist");
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(subscript(&proxy, "name")? == &json!(name)))
}

fn get_proxy_attribute(api: &Api, name: &str, attribute: &str) -> Result<Value, DriverError> {
    let proxy = read_proxy(api, name)?;
    if !py_truthy(&proxy) {
        return Ok(Value::Null);
    }
    subscript(&proxy, attribute).cloned()
}

fn create_toxic(api: &Api, t: &NewToxic) -> Result<Value, DriverError> {
    let body = json!({
        "name": t.name,
        "type": t.kind,
        "stream": t.stream,
        "toxicity": t.toxicity,
        "attributes": t.attributes,
    });
    tracing::info!(
        "Creating toxic {} for proxy {} with type: {} as a {} with toxicity {} and attributes {}",
        t.name,
        t.proxy,
        t.kind,
        t.stream,
        t.toxicity,
        t.attributes
    );
    let url = format!("{}/toxics", api.proxy(&t.proxy));
    let reply = api.send(Method::POST, &url, Some(&body))?;
    let toxic = if reply.ok() {
        reply.json()?
    } else {
        tracing::error!(
            "Unable to create toxic for proxy: {}: the Toxiproxy API answered {} {}",
            t.proxy,
            reply.status,
            reply.text()
        );
        Value::Null
    };
    Ok(Value::Bool(subscript(&toxic, "name")? == &json!(t.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_lists_every_function_of_the_extension() {
        let listed: Vec<String> = ToxiproxyDriver
            .functions()
            .into_iter()
            .map(|f| format!("{}.{} ({})", f.module, f.name, f.kind))
            .collect();
        let expected = [
            "chaostoxi.proxy.actions.create_proxy (action)",
            "chaostoxi.proxy.actions.disable_proxy (action)",
            "chaostoxi.proxy.actions.enable_proxy (action)",
            "chaostoxi.proxy.actions.modify_proxy (action)",
            "chaostoxi.proxy.actions.delete_proxy (action)",
            "chaostoxi.proxy.actions.reset (action)",
            "chaostoxi.proxy.probes.proxy_exist (probe)",
            "chaostoxi.proxy.probes.get_proxy_attribute (probe)",
            "chaostoxi.toxic.actions.delete_toxic (action)",
            "chaostoxi.toxic.actions.create_toxic (action)",
            "chaostoxi.toxic.actions.create_latency_toxic (action)",
            "chaostoxi.toxic.actions.create_bandwith_degradation_toxic (action)",
            "chaostoxi.toxic.actions.create_slow_connection_close_toxic (action)",
            "chaostoxi.toxic.actions.create_timeout_toxic (action)",
            "chaostoxi.toxic.actions.create_slicer_toxic (action)",
            "chaostoxi.toxic.actions.create_limiter_toxic (action)",
        ];
        assert_eq!(listed, expected);
    }

    #[test]
    fn python_subscript_failures_read_as_python_prints_them() {
        let msg = |v: Value, k: &str| subscript(&v, k).map_err(|e| e.to_string()).err();
        assert_eq!(
            msg(Value::Null, "name").as_deref(),
            Some("TypeError: 'NoneType' object is not subscriptable")
        );
        assert_eq!(
            msg(json!({"a": 1}), "listen").as_deref(),
            Some("KeyError: 'listen'")
        );
        assert_eq!(msg(json!({"listen": 1}), "listen"), None);
    }
}
