//! An `http` provider's spec: its fields read after `${}` substitution.

use crate::engine::provider::{ProviderContext, substituted};
use crate::provider::Fields;
use crate::python_value::py_str;
use serde_json::{Map, Value, json};

/// An `http` provider, read after `${}` substitution (of `url`, `headers`, `timeout`
/// always, of `arguments` only when the run has configuration or secrets, as the
/// reference does). Read leniently: validation has reported what is wrong, unless the
/// run was asked not to validate.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    pub url: String,
    /// Upper-cased; `GET` when absent.
    pub method: String,
    pub headers: Map<String, Value>,
    pub timeout: Timeout,
    pub arguments: Option<Value>,
    pub verify_tls: bool,
    pub max_retries: u64,
    pub expected_status: Option<ExpectedStatus>,
}

/// `timeout`: a number is both the connect and the read timeout; a pair is
/// `[connect, read]` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeout {
    pub connect_ms: Option<u64>,
    pub read_ms: Option<u64>,
}

impl Timeout {
    fn from_value(t: Option<&Value>) -> Timeout {
        let (connect_ms, read_ms) = match t {
            Some(Value::Array(pair)) if pair.len() == 2 => {
                (seconds_to_ms(&pair[0]), seconds_to_ms(&pair[1]))
            }
            Some(t) => (seconds_to_ms(t), seconds_to_ms(t)),
            None => (None, None),
        };
        Timeout {
            connect_ms,
            read_ms,
        }
    }
}

/// `expected_status` (a chaos-runner extension; the reference ignores it): a status or
/// a list of them; any other status fails the activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedStatus(pub Value);

impl ExpectedStatus {
    /// Whether `status` is expected (Python's `==` / `in`, as written).
    pub fn accepts(&self, status: u16) -> bool {
        match &self.0 {
            Value::Array(list) => crate::python_value::py_in(&json!(status), list),
            one => crate::python_value::py_eq(&json!(status), one),
        }
    }
}

impl HttpSpec {
    /// Reads the provider as written, substituting `${}` where the reference does.
    pub fn parse(p: &Fields, ctx: &ProviderContext) -> HttpSpec {
        let (c, s) = (ctx.configuration, ctx.secrets);
        let always = |v: &Option<Value>| v.as_ref().map(|v| crate::config::substitute(v, c, s));
        HttpSpec {
            url: always(&p.url).map(|u| py_str(&u)).unwrap_or_default(),
            method: p
                .method
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_uppercase(),
            headers: match always(&p.headers) {
                Some(Value::Object(h)) => h,
                _ => Map::new(),
            },
            timeout: Timeout::from_value(always(&p.timeout).as_ref()),
            arguments: p.arguments.as_ref().map(|a| substituted(a, ctx)),
            verify_tls: p
                .verify_tls
                .as_ref()
                .and_then(Value::as_bool)
                .unwrap_or(true),
            max_retries: p.max_retries.as_ref().and_then(Value::as_u64).unwrap_or(0),
            expected_status: p
                .expected_status
                .as_ref()
                .filter(|v| !v.is_null())
                .cloned()
                .map(ExpectedStatus),
        }
    }
}

/// A timeout in milliseconds; a value out of range (one from a `${}` variable, which
/// validation cannot see) means none, i.e. the default wait, never an overflow.
fn seconds_to_ms(v: &Value) -> Option<u64> {
    v.as_f64()
        .filter(|f| crate::duration::check(*f).is_ok())
        .map(|f| (f * 1000.0).round() as u64)
}
