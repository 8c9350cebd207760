//! Proxies as the API reads and shows them.

use serde::Serialize;
use serde_json::Value;

use super::json::{Fields, first_value, object};
use super::toxic::{Toxic, ToxicList};
use crate::error::ApiError;

/// Longest name, listen or upstream string taken (Toxiproxy has no limit; these are
/// far beyond any real one and keep memory and log lines bounded).
pub const MAX_FIELD_LEN: usize = 1024;

/// A proxy's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    pub name: String,
    /// As given until the proxy listens, then the bound address (`127.0.0.1:40123`).
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
}

fn check_len(field: &str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_FIELD_LEN {
        Err(ApiError::bad_body(format!(
            "{field}: longer than {MAX_FIELD_LEN} bytes"
        )))
    } else {
        Ok(())
    }
}

impl ProxySpec {
    /// Reads one proxy's fields over `defaults` (Go decodes into a prefilled struct).
    fn read(
        map: Option<&serde_json::Map<String, Value>>,
        defaults: ProxySpec,
        go_struct: &str,
    ) -> Result<ProxySpec, ApiError> {
        let f = Fields::new(map, go_struct);
        let mut spec = defaults;
        if let Some(name) = f.string("name")? {
            spec.name = name;
        }
        if let Some(listen) = f.string("listen")? {
            spec.listen = listen;
        }
        if let Some(upstream) = f.string("upstream")? {
            spec.upstream = upstream;
        }
        if let Some(enabled) = f.bool("enabled")? {
            spec.enabled = enabled;
        }
        check_len("name", &spec.name)?;
        check_len("listen", &spec.listen)?;
        check_len("upstream", &spec.upstream)?;
        Ok(spec)
    }

    /// A `POST /proxies` body: name and upstream required, enabled by default.
    pub fn from_create_body(body: &[u8]) -> Result<ProxySpec, ApiError> {
        let value = first_value(body)?;
        let map = object(&value, "toxiproxy.Proxy")?;
        let spec = Self::read(map, Self::blank(), "Proxy")?;
        if spec.name.is_empty() {
            return Err(ApiError::missing("name"));
        }
        if spec.upstream.is_empty() {
            return Err(ApiError::missing("upstream"));
        }
        Ok(spec)
    }

    /// A `POST /proxies/{name}` body over the current settings; the name never changes.
    pub fn updated(&self, body: &[u8]) -> Result<ProxySpec, ApiError> {
        let value = first_value(body)?;
        let map = object(&value, "toxiproxy.Proxy")?;
        let mut spec = Self::read(map, self.clone(), "Proxy")?;
        spec.name.clone_from(&self.name);
        Ok(spec)
    }

    /// A `POST /populate` body (or a `-config` file): an array of proxies, every one
    /// checked before any is made.
    pub fn list_from_body(body: &[u8]) -> Result<Vec<ProxySpec>, ApiError> {
        let value = first_value(body)?;
        let items = match &value {
            Value::Array(items) => items.as_slice(),
            Value::Null => &[],
            other => {
                let kind = match other {
                    Value::Object(_) => "object",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    _ => "bool",
                };
                return Err(ApiError::bad_body(format!(
                    "json: cannot unmarshal {kind} into Go value of type []struct {{ toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }}"
                )));
            }
        };
        let mut specs = Vec::with_capacity(items.len());
        for item in items {
            // Populate's entries are an anonymous Go struct: no type name in errors.
            let map = object(
                item,
                "struct { toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }",
            )?;
            specs.push(Self::read(map, Self::blank(), "")?);
        }
        for (i, spec) in specs.iter().enumerate() {
            if spec.name.is_empty() {
                return Err(ApiError::missing(format!("name at proxy {}", i + 1)));
            }
            if spec.upstream.is_empty() {
                return Err(ApiError::missing(format!("upstream at proxy {}", i + 1)));
            }
        }
        Ok(specs)
    }

    fn blank() -> ProxySpec {
        ProxySpec {
            name: String::new(),
            listen: String::new(),
            upstream: String::new(),
            enabled: true,
        }
    }
}

/// Toxiproxy's proxy object, with its toxics. `Logger` is the empty object Toxiproxy
/// 2.5 leaks from its Go struct; kept so field-by-field comparisons hold.
#[derive(Debug, Serialize)]
pub struct ProxyView<'a> {
    pub name: &'a str,
    pub listen: &'a str,
    pub upstream: &'a str,
    pub enabled: bool,
    #[serde(rename = "Logger")]
    pub logger: Empty,
    pub toxics: Vec<&'a Toxic>,
}

/// `{}`.
#[derive(Debug, Serialize)]
pub struct Empty {}

impl<'a> ProxyView<'a> {
    pub fn new(spec: &'a ProxySpec, toxics: &'a ToxicList) -> Self {
        ProxyView {
            name: &spec.name,
            listen: &spec.listen,
            upstream: &spec.upstream,
            enabled: spec.enabled,
            logger: Empty {},
            toxics: toxics.iter().map(|t| t.as_ref()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_requires_name_then_upstream() {
        assert_eq!(
            ProxySpec::from_create_body(br#"{"listen":"x"}"#).unwrap_err(),
            ApiError::missing("name")
        );
        assert_eq!(
            ProxySpec::from_create_body(br#"{"name":"a"}"#).unwrap_err(),
            ApiError::missing("upstream")
        );
        let s = ProxySpec::from_create_body(br#"{"name":"a","upstream":"u:1"}"#).unwrap();
        assert!(s.enabled);
        assert_eq!(s.listen, "");
    }

    #[test]
    fn update_keeps_the_name_and_unset_fields() {
        let s = ProxySpec::from_create_body(br#"{"name":"a","upstream":"u:1","listen":"l:2"}"#)
            .unwrap();
        let u = s.updated(br#"{"name":"b","enabled":false}"#).unwrap();
        assert_eq!(
            (u.name.as_str(), u.listen.as_str(), u.enabled),
            ("a", "l:2", false)
        );
    }

    #[test]
    fn populate_checks_every_entry_first() {
        let err = ProxySpec::list_from_body(br#"[{"name":"a","upstream":"u"},{"upstream":"u"}]"#)
            .unwrap_err();
        assert_eq!(err.message, "missing required field: name at proxy 2");
        assert!(
            ProxySpec::list_from_body(b"{}")
                .unwrap_err()
                .message
                .contains("[]struct { toxiproxy.Proxy; Enabled *bool")
        );
        assert!(ProxySpec::list_from_body(b"[]").unwrap().is_empty());
    }
}
