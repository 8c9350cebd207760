//! Typed access to an activity's arguments: unknown names and missing required arguments
//! are rejected up front, omitted ones take the catalog's default, and each getter checks
//! the JSON type and names the argument when it is wrong.

use serde_json::{Map, Value};

use crate::FunctionSpec;
use crate::error::{Error, invalid};

#[derive(Debug)]
pub(crate) struct Args {
    /// The function they are for: module and name.
    function: (&'static str, &'static str),
    values: Map<String, Value>,
}

impl Args {
    pub(crate) fn new(spec: &FunctionSpec, given: &Map<String, Value>) -> Result<Self, Error> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !spec.arguments.iter().any(|a| a.name == k.as_str()))
        {
            let known: Vec<_> = spec.arguments.iter().map(|a| a.name).collect();
            return Err(invalid(
                unknown,
                format!(
                    "{}.{} takes no such argument (it takes: {})",
                    spec.module,
                    spec.name,
                    known.join(", ")
                ),
            ));
        }
        let mut values = Map::new();
        for arg in &spec.arguments {
            let value = match (given.get(arg.name), &arg.default) {
                (Some(v), _) => v.clone(),
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(invalid(
                        arg.name,
                        format!("required by {}.{} but not given", spec.module, spec.name),
                    ));
                }
            };
            values.insert(arg.name.to_string(), value);
        }
        Ok(Self {
            function: (spec.module, spec.name),
            values,
        })
    }

    /// The function these arguments are for: module and name.
    pub(crate) fn function(&self) -> (&'static str, &'static str) {
        self.function
    }

    /// Every argument, defaults filled in.
    pub(crate) fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    fn get(&self, name: &str) -> &Value {
        self.values.get(name).unwrap_or(&Value::Null)
    }

    /// A string that must be present (not null).
    pub(crate) fn string(&self, name: &str) -> Result<String, Error> {
        self.opt_string(name)?
            .ok_or_else(|| invalid(name, "must be a string, got null"))
    }

    /// A string, or `None` for null.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get(name) {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(invalid(name, format!("must be a string, got {other}"))),
        }
    }

    /// A string, or `None` for null or "" (Python's truthiness, which chaosk8s relies on to
    /// decide whether a selector is given).
    pub(crate) fn non_empty(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.opt_string(name)?.filter(|s| !s.is_empty()))
    }

    pub(crate) fn boolean(&self, name: &str) -> Result<bool, Error> {
        match self.get(name) {
            Value::Bool(b) => Ok(*b),
            other => Err(invalid(name, format!("must be true or false, got {other}"))),
        }
    }

    pub(crate) fn integer(&self, name: &str) -> Result<i64, Error> {
        match self.get(name) {
            Value::Number(n) if n.is_i64() => n
                .as_i64()
                .ok_or_else(|| invalid(name, format!("must be an integer, got {n}"))),
            other => Err(invalid(name, format!("must be an integer, got {other}"))),
        }
    }

    /// An integer, or `None` for null.
    pub(crate) fn opt_integer(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.get(name) {
            Value::Null => Ok(None),
            _ => self.integer(name).map(Some),
        }
    }

    /// A structured argument (a mapping, a list) parsed once into `T`; `what` names the
    /// expected shape in the error.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
    ) -> Result<T, Error> {
        serde_json::from_value(self.get(name).clone())
            .map_err(|e| invalid(name, format!("must be {what}: {e}")))
    }

    /// A timeout in seconds. chaosk8s converts it with Python's `int()`, so a number or a
    /// string holding an integer are both accepted; a fraction is truncated.
    pub(crate) fn seconds(&self, name: &str) -> Result<u64, Error> {
        let value = self.get(name);
        let parsed = match value {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match parsed {
            Some(secs) if secs >= 0 => Ok(secs as u64),
            _ => Err(invalid(
                name,
                format!("must be a non-negative number of seconds, got {value}"),
            )),
        }
    }
}

/// Python's `selector.format(name=name)` for the `name in ({name})` style defaults:
/// `{name}` is replaced, `{{` and `}}` are literal braces, and any other field is an error
/// (where Python raises KeyError/ValueError). A `None` name reads `None`, as in Python.
pub(crate) fn format_selector(selector: &str, name: Option<&str>) -> Result<String, Error> {
    let name = name.unwrap_or("None");
    let mut out = String::with_capacity(selector.len() + name.len());
    let mut chars = selector.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if field != "name" {
                    return Err(invalid(
                        "label_selector",
                        format!(
                            "'{selector}' uses the field {{{field}}}; only {{name}} can be substituted"
                        ),
                    ));
                }
                out.push_str(name);
            }
            '}' => {
                return Err(invalid(
                    "label_selector",
                    format!("'{selector}' has a single '}}' (write '}}}}' for a literal brace)"),
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Python's `str()` of an optional value, for messages that chaosk8s builds with f-strings.
pub(crate) fn py_str(value: Option<&str>) -> &str {
    value.unwrap_or("None")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use serde_json::json;

    fn args(module: &str, func: &str, given: Value) -> Result<Args, Error> {
        let spec = catalog::find(module, func).unwrap();
        Args::new(&spec, given.as_object().unwrap())
    }

    #[test]
    fn fills_defaults_from_the_catalog() {
        let a = args(
            catalog::ACTIONS,
            "kill_microservice",
            json!({"name": "web"}),
        )
        .unwrap();
        assert_eq!(a.string("ns").unwrap(), "default");
        assert_eq!(a.string("label_selector").unwrap(), "name in ({name})");
    }

    #[test]
    fn rejects_unknown_and_missing_arguments() {
        let err = args(
            catalog::ACTIONS,
            "kill_microservice",
            json!({"name": "x", "nss": "a"}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid argument 'nss': chaosk8s.actions.kill_microservice takes no such argument (it takes: name, ns, label_selector)"
        );
        let err = args(catalog::ACTIONS, "scale_microservice", json!({"name": "x"}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid argument 'replicas': required by chaosk8s.actions.scale_microservice but not given"
        );
    }

    #[test]
    fn checks_types_and_names_the_argument() {
        let a = args(
            catalog::ACTIONS,
            "scale_microservice",
            json!({"name": 3, "replicas": "2"}),
        )
        .unwrap();
        assert_eq!(
            a.string("name").unwrap_err().to_string(),
            "invalid argument 'name': must be a string, got 3"
        );
        assert_eq!(
            a.integer("replicas").unwrap_err().to_string(),
            "invalid argument 'replicas': must be an integer, got \"2\""
        );
        let a = args(
            catalog::POD_PROBES,
            "all_pods_healthy",
            json!({"raise_on_any_unhealthy": "no"}),
        )
        .unwrap();
        assert!(a.boolean("raise_on_any_unhealthy").is_err());
    }

    #[test]
    fn empty_strings_count_as_not_given() {
        let a = args(
            catalog::POD_ACTIONS,
            "terminate_pods",
            json!({"label_selector": ""}),
        )
        .unwrap();
        assert_eq!(a.non_empty("label_selector").unwrap(), None);
        assert_eq!(a.non_empty("name_pattern").unwrap(), None);
    }

    #[test]
    fn seconds_accept_what_python_int_accepts() {
        for (given, expected) in [(json!(5), 5), (json!("7"), 7), (json!(2.9), 2)] {
            let a = args(
                catalog::PROBES,
                "deployment_is_fully_available",
                json!({"name": "x", "timeout": given}),
            )
            .unwrap();
            assert_eq!(a.seconds("timeout").unwrap(), expected);
        }
        for bad in [json!("soon"), json!(-1), json!(null)] {
            let a = args(
                catalog::PROBES,
                "deployment_is_fully_available",
                json!({"name": "x", "timeout": bad}),
            )
            .unwrap();
            assert!(a.seconds("timeout").is_err());
        }
    }

    #[test]
    fn formats_selectors_like_python_str_format() {
        assert_eq!(
            format_selector("name in ({name})", Some("web")).unwrap(),
            "name in (web)"
        );
        assert_eq!(
            format_selector("name in ({name})", None).unwrap(),
            "name in (None)"
        );
        assert_eq!(format_selector("app={{x}}", Some("w")).unwrap(), "app={x}");
        assert_eq!(format_selector("app=web", Some("w")).unwrap(), "app=web");
        assert!(format_selector("app={other}", Some("w")).is_err());
        assert!(format_selector("app=}", Some("w")).is_err());
    }
}
