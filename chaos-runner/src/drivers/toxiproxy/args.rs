//! Each function's arguments, read once from the activity's (substituted) `arguments`
//! into a typed request, with the catalog's defaults for those not given. Types are
//! checked here, and every number that becomes a duration, a size or a port is
//! range-checked, so nothing ill-typed reaches the server.

use serde_json::{Map, Value, json};

use super::catalog::{self, PROXY_ACTIONS, PROXY_PROBES, TOXIC_ACTIONS};
use crate::drivers::{DriverError, Function};

/// A port as written: a number (checked to be one), or text passed on as written
/// (`${var}` substitution yields text; `env:NAME` names an environment variable).
#[derive(Debug, Clone, PartialEq)]
pub enum Port {
    Number(u16),
    Text(String),
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateProxy {
    pub name: String,
    /// May be `env:NAME`.
    pub upstream_host: String,
    /// May be `env:NAME`.
    pub upstream_port: Port,
    pub listen_host: String,
    pub listen_port: Port,
    pub enabled: bool,
}

/// The fields to change; `None` ones are not sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ModifyProxy {
    pub name: String,
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewToxic {
    pub proxy: String,
    pub name: String,
    pub kind: String,
    pub stream: String,
    pub toxicity: f64,
    /// An object, or null (sent as is: the server fills its type's defaults).
    pub attributes: Value,
}

/// One call, its arguments read.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    CreateProxy(CreateProxy),
    ModifyProxy(ModifyProxy),
    DeleteProxy { name: String },
    Reset,
    ProxyExist { name: String },
    GetProxyAttribute { name: String, attribute: String },
    CreateToxic(NewToxic),
    DeleteToxic { proxy: String, name: String },
}

/// The arguments given, and the function's defaults for the others.
struct Args<'a> {
    given: &'a Map<String, Value>,
    function: &'a Function,
}

fn invalid(name: &str, reason: impl Into<String>) -> DriverError {
    DriverError::InvalidArgument {
        name: name.into(),
        reason: reason.into(),
    }
}

/// The JSON type of `v`, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The largest size (bytes, KB/s) accepted: Toxiproxy reads them as 64-bit integers.
const MAX_SIZE: u64 = i64::MAX as u64;

impl<'a> Args<'a> {
    fn value(&self, name: &str) -> Result<&'a Value, DriverError> {
        if let Some(v) = self.given.get(name) {
            return Ok(v);
        }
        self.function
            .arguments
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.default.as_ref())
            .ok_or_else(|| invalid(name, "is required"))
    }

    fn string(&self, name: &str) -> Result<String, DriverError> {
        match self.value(name)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(invalid(
                name,
                format!("must be a string, got {}", type_name(other)),
            )),
        }
    }

    fn optional_string(&self, name: &str) -> Result<Option<String>, DriverError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(invalid(
                name,
                format!("must be a string or null, got {}", type_name(other)),
            )),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, DriverError> {
        match self.value(name)? {
            Value::Bool(b) => Ok(*b),
            other => Err(invalid(
                name,
                format!("must be true or false, got {}", type_name(other)),
            )),
        }
    }

    fn optional_boolean(&self, name: &str) -> Result<Option<bool>, DriverError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            other => Err(invalid(
                name,
                format!("must be true, false or null, got {}", type_name(other)),
            )),
        }
    }

    /// A whole number in `0..=max`.
    fn whole(&self, name: &str, max: u64, unit: &str) -> Result<u64, DriverError> {
        let v = self.value(name)?;
        let Some(n) = v.as_i64().map(i128::from).or(v.as_u64().map(i128::from)) else {
            return Err(invalid(
                name,
                format!("must be a whole number of {unit}, got {v}"),
            ));
        };
        if n < 0 {
            return Err(invalid(name, format!("must not be negative, got {n}")));
        }
        if n > i128::from(max) {
            return Err(invalid(
                name,
                format!("must be at most {max} {unit}, got {n}"),
            ));
        }
        Ok(n as u64)
    }

    /// Milliseconds that become a timer in the proxy: at most the longest duration
    /// chaos-runner accepts anywhere ([`crate::duration::MAX_SECONDS`]).
    fn millis(&self, name: &str) -> Result<u64, DriverError> {
        self.whole(
            name,
            crate::duration::MAX_SECONDS as u64 * 1000,
            "milliseconds",
        )
    }

    fn micros(&self, name: &str) -> Result<u64, DriverError> {
        self.whole(
            name,
            crate::duration::MAX_SECONDS as u64 * 1_000_000,
            "microseconds",
        )
    }

    fn size(&self, name: &str, unit: &str) -> Result<u64, DriverError> {
        self.whole(name, MAX_SIZE, unit)
    }

    fn port(&self, name: &str) -> Result<Port, DriverError> {
        match self.value(name)? {
            Value::String(s) => Ok(Port::Text(s.clone())),
            v @ Value::Number(_) => match v.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(n) => Ok(Port::Number(n)),
                None => Err(invalid(
                    name,
                    format!("must be a port number (0 to 65535), got {v}"),
                )),
            },
            other => Err(invalid(
                name,
                format!(
                    "must be a port number or a string, got {}",
                    type_name(other)
                ),
            )),
        }
    }

    /// The fraction of connections a toxic applies to.
    fn toxicity(&self, name: &str) -> Result<f64, DriverError> {
        let v = self.value(name)?;
        match v.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Ok(t),
            Some(t) => Err(invalid(name, format!("must be between 0 and 1, got {t}"))),
            None => Err(invalid(
                name,
                format!("must be a number between 0 and 1, got {}", type_name(v)),
            )),
        }
    }

    fn attributes(&self, name: &str) -> Result<Value, DriverError> {
        match self.value(name)? {
            v @ (Value::Null | Value::Object(_)) => Ok(v.clone()),
            other => Err(invalid(
                name,
                format!("must be a mapping or null, got {}", type_name(other)),
            )),
        }
    }

    /// A toxic of `kind` on the downstream, always applied, as the typed toxic
    /// functions create it.
    fn typed_toxic(&self, kind: &str, attributes: Value) -> Result<Request, DriverError> {
        Ok(Request::CreateToxic(NewToxic {
            proxy: self.string("for_proxy")?,
            name: self.string("toxic_name")?,
            kind: kind.into(),
            stream: "downstream".into(),
            toxicity: 1.0,
            attributes,
        }))
    }
}

impl Request {
    /// Reads `arguments` for `module.func`.
    pub fn parse(
        module: &str,
        func: &str,
        arguments: &Map<String, Value>,
    ) -> Result<Request, DriverError> {
        let unknown = || DriverError::Unknown {
            module: module.into(),
            func: func.into(),
        };
        let functions = catalog::functions();
        let function = functions
            .iter()
            .find(|f| f.module == module && f.name == func)
            .ok_or_else(unknown)?;
        let a = Args {
            given: arguments,
            function,
        };
        let proxy_name = || a.string("proxy_name");
        let enable = |enabled: bool| -> Result<Request, DriverError> {
            Ok(Request::ModifyProxy(ModifyProxy {
                name: proxy_name()?,
                listen: None,
                upstream: None,
                enabled: Some(enabled),
            }))
        };
        Ok(match (module, func) {
            (PROXY_ACTIONS, "create_proxy") => Request::CreateProxy(CreateProxy {
                name: proxy_name()?,
                upstream_host: a.string("upstream_host")?,
                upstream_port: a.port("upstream_port")?,
                listen_host: a.string("listen_host")?,
                listen_port: a.port("listen_port")?,
                enabled: a.boolean("enabled")?,
            }),
            (PROXY_ACTIONS, "modify_proxy") => Request::ModifyProxy(ModifyProxy {
                name: proxy_name()?,
                listen: a.optional_string("listen_address")?,
                upstream: a.optional_string("upstream_address")?,
                enabled: a.optional_boolean("enabled")?,
            }),
            (PROXY_ACTIONS, "disable_proxy") => enable(false)?,
            (PROXY_ACTIONS, "enable_proxy") => enable(true)?,
            (PROXY_ACTIONS, "delete_proxy") => Request::DeleteProxy {
                name: proxy_name()?,
            },
            (PROXY_ACTIONS, "reset") => Request::Reset,
            (PROXY_PROBES, "proxy_exist") => Request::ProxyExist {
                name: proxy_name()?,
            },
            (PROXY_PROBES, "get_proxy_attribute") => Request::GetProxyAttribute {
                name: proxy_name()?,
                attribute: a.string("attribute")?,
            },
            (TOXIC_ACTIONS, "delete_toxic") => Request::DeleteToxic {
                proxy: a.string("for_proxy")?,
                name: a.string("toxic_name")?,
            },
            (TOXIC_ACTIONS, "create_toxic") => Request::CreateToxic(NewToxic {
                proxy: a.string("for_proxy")?,
                name: a.string("toxic_name")?,
                kind: a.string("toxic_type")?,
                stream: a.string("stream")?,
                toxicity: a.toxicity("toxicity")?,
                attributes: a.attributes("attributes")?,
            }),
            (TOXIC_ACTIONS, "create_latency_toxic") => a.typed_toxic(
                "latency",
                json!({"latency": a.millis("latency")?, "jitter": a.millis("jitter")?}),
            )?,
            (TOXIC_ACTIONS, "create_bandwith_degradation_toxic") => {
                a.typed_toxic("bandwidth", json!({"rate": a.size("rate", "KB/s")?}))?
            }
            (TOXIC_ACTIONS, "create_slow_connection_close_toxic") => {
                a.typed_toxic("slow_close", json!({"delay": a.millis("delay")?}))?
            }
            (TOXIC_ACTIONS, "create_timeout_toxic") => {
                a.typed_toxic("timeout", json!({"timeout": a.millis("timeout")?}))?
            }
            (TOXIC_ACTIONS, "create_slicer_toxic") => a.typed_toxic(
                "slicer",
                json!({
                    "average_size": a.size("average_size", "bytes")?,
                    "size_variation": a.size("size_variation", "bytes")?,
                    "delay": a.micros("delay")?,
                }),
            )?,
            (TOXIC_ACTIONS, "create_limiter_toxic") => a.typed_toxic(
                "limit_data",
                json!({"bytes": a.size("bytes_limit", "bytes")?}),
            )?,
            _ => return Err(unknown()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(module: &str, func: &str, arguments: Value) -> Result<Request, String> {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        Request::parse(module, func, &arguments).map_err(|e| e.to_string())
    }

    #[test]
    fn create_proxy_fills_the_extensions_defaults() {
        assert_eq!(
            parse(
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_host": "127.0.0.1", "upstream_port": 8080})
            ),
            Ok(Request::CreateProxy(CreateProxy {
                name: "p".into(),
                upstream_host: "127.0.0.1".into(),
                upstream_port: Port::Number(8080),
                listen_host: "0.0.0.0".into(),
                listen_port: Port::Number(0),
                enabled: true,
            }))
        );
    }

    #[test]
    fn ports_may_be_text_as_substitution_and_env_give_them() {
        let got = parse(
            PROXY_ACTIONS,
            "create_proxy",
            json!({"proxy_name": "p", "upstream_host": "env:HOST", "upstream_port": "env:PORT",
                   "listen_port": "40000"}),
        );
        let Ok(Request::CreateProxy(c)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(c.upstream_port, Port::Text("env:PORT".into()));
        assert_eq!(c.listen_port.to_string(), "40000");
    }

    #[test]
    fn typed_toxics_are_downstream_always_applied_with_their_attributes() {
        let cases = [
            (
                "create_latency_toxic",
                json!({"latency": 1500}),
                "latency",
                json!({"latency": 1500, "jitter": 0}),
            ),
            (
                "create_bandwith_degradation_toxic",
                json!({"rate": 10}),
                "bandwidth",
                json!({"rate": 10}),
            ),
            (
                "create_slow_connection_close_toxic",
                json!({"delay": 20}),
                "slow_close",
                json!({"delay": 20}),
            ),
            (
                "create_timeout_toxic",
                json!({"timeout": 0}),
                "timeout",
                json!({"timeout": 0}),
            ),
            (
                "create_slicer_toxic",
                json!({"average_size": 8, "size_variation": 2, "delay": 100}),
                "slicer",
                json!({"average_size": 8, "size_variation": 2, "delay": 100}),
            ),
            (
                "create_limiter_toxic",
                json!({"bytes_limit": 4096}),
                "limit_data",
                json!({"bytes": 4096}),
            ),
        ];
        for (func, mut args, kind, attributes) in cases {
            args["for_proxy"] = json!("p");
            args["toxic_name"] = json!("t");
            assert_eq!(
                parse(TOXIC_ACTIONS, func, args),
                Ok(Request::CreateToxic(NewToxic {
                    proxy: "p".into(),
                    name: "t".into(),
                    kind: kind.into(),
                    stream: "downstream".into(),
                    toxicity: 1.0,
                    attributes,
                })),
                "{func}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_refused_with_the_argument_and_the_reason() {
        let toxic = |extra: Value| {
            let mut args = json!({"for_proxy": "p", "toxic_name": "t"});
            for (k, v) in extra.as_object().into_iter().flatten() {
                args[k] = v.clone();
            }
            args
        };
        let cases = [
            (
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": 5, "upstream_host": "h", "upstream_port": 1}),
                "invalid argument 'proxy_name': must be a string, got an integer",
            ),
            (
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_host": "h", "upstream_port": 70000}),
                "invalid argument 'upstream_port': must be a port number (0 to 65535), got 70000",
            ),
            (
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_host": "h", "upstream_port": true}),
                "invalid argument 'upstream_port': must be a port number or a string, got a boolean",
            ),
            (
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_host": "h", "upstream_port": 1, "enabled": "yes"}),
                "invalid argument 'enabled': must be true or false, got a string",
            ),
            (
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_port": 1}),
                "invalid argument 'upstream_host': is required",
            ),
            (
                PROXY_ACTIONS,
                "modify_proxy",
                json!({"proxy_name": "p", "enabled": 1}),
                "invalid argument 'enabled': must be true, false or null, got an integer",
            ),
            (
                TOXIC_ACTIONS,
                "create_latency_toxic",
                toxic(json!({"latency": "100"})),
                "invalid argument 'latency': must be a whole number of milliseconds, got \"100\"",
            ),
            (
                TOXIC_ACTIONS,
                "create_latency_toxic",
                toxic(json!({"latency": 1.5})),
                "invalid argument 'latency': must be a whole number of milliseconds, got 1.5",
            ),
            (
                TOXIC_ACTIONS,
                "create_latency_toxic",
                toxic(json!({"latency": 10, "jitter": -1})),
                "invalid argument 'jitter': must not be negative, got -1",
            ),
            (
                TOXIC_ACTIONS,
                "create_timeout_toxic",
                toxic(json!({"timeout": 2_592_000_001_u64})),
                "invalid argument 'timeout': must be at most 2592000000 milliseconds, got 2592000001",
            ),
            (
                TOXIC_ACTIONS,
                "create_limiter_toxic",
                toxic(json!({"bytes_limit": u64::MAX})),
                "invalid argument 'bytes_limit': must be at most 9223372036854775807 bytes, got 18446744073709551615",
            ),
            (
                TOXIC_ACTIONS,
                "create_toxic",
                toxic(json!({"toxic_type": "latency", "toxicity": 1.5})),
                "invalid argument 'toxicity': must be between 0 and 1, got 1.5",
            ),
            (
                TOXIC_ACTIONS,
                "create_toxic",
                toxic(json!({"toxic_type": "latency", "attributes": [1]})),
                "invalid argument 'attributes': must be a mapping or null, got a list",
            ),
        ];
        for (module, func, args, expected) in cases {
            assert_eq!(
                parse(module, func, args),
                Err(expected.to_string()),
                "{func}"
            );
        }
    }

    #[test]
    fn a_function_the_extension_lacks_is_unknown() {
        assert_eq!(
            parse(PROXY_PROBES, "create_proxy", json!({})),
            Err("unknown function chaostoxi.proxy.probes.create_proxy".to_string())
        );
    }
}
