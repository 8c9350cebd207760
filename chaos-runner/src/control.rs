//! Controls as declared: code that runs around the experiment, the hypothesis, the
//! method, the rollbacks and each activity (chaoslib's `controls`), and can stop the
//! run.
//!
//! A control is declared in the experiment (top level, the hypothesis, an activity, or
//! a `ref` to a top-level one) or in the settings file. Python controls run through the
//! bridge; `chaosaddons.controls.safeguards` is native. [`crate::validate::control`]
//! holds their rules, [`crate::engine::controls`] runs them.

use serde_json::{Map, Value};
use std::sync::Arc;

/// The module chaos-runner runs natively instead of through the bridge.
pub const SAFEGUARDS_MODULE: &str = "chaosaddons.controls.safeguards";

/// Before or after what the level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Before,
    After,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Before => "before",
            Scope::After => "after",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        match name {
            "before" => Some(Scope::Before),
            "after" => Some(Scope::After),
            _ => None,
        }
    }
}

/// What runs a control.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlKind {
    /// A Python module's hooks, through the bridge.
    Python { module: String },
    /// `chaosaddons.controls.safeguards`, natively: its `probes` argument.
    Safeguards { probes: Vec<Value> },
    /// A provider chaoslib does not run either (not `python`): ignored, as there.
    Other,
}

/// One control, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub name: String,
    /// Only this scope's hooks run (`None`: both).
    pub scope: Option<Scope>,
    /// Applied at every level below the experiment too (chaoslib's `automatic`).
    pub automatic: bool,
    pub kind: ControlKind,
    /// The provider's `arguments` (`${}` substituted when a hook runs).
    pub arguments: Map<String, Value>,
    /// As declared (what a control's own `validate_control` receives).
    pub declared: Value,
}

/// A control where it is declared: itself, or a `ref` to a top-level one by name.
#[derive(Debug, Clone, PartialEq)]
pub enum Declared {
    Inline(Arc<Control>),
    Ref(String),
}

impl Control {
    /// `None` when `value` is not a mapping with a name (validation reports it).
    pub fn from_value(value: &Value, name: Option<&str>) -> Option<Control> {
        let c = value.as_object()?;
        let name = name.or_else(|| c.get("name").and_then(Value::as_str))?;
        let provider = c.get("provider").and_then(Value::as_object);
        let arguments = provider
            .and_then(|p| p.get("arguments"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let module = provider
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("python"))
            .and_then(|p| p.get("module"))
            .and_then(Value::as_str);
        let kind = match module {
            Some(SAFEGUARDS_MODULE) => ControlKind::Safeguards {
                probes: arguments
                    .get("probes")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            },
            Some(module) => ControlKind::Python {
                module: module.to_string(),
            },
            None => ControlKind::Other,
        };
        Some(Control {
            name: name.to_string(),
            scope: c
                .get("scope")
                .and_then(Value::as_str)
                .and_then(Scope::from_name),
            automatic: c.get("automatic").and_then(Value::as_bool) != Some(false),
            kind,
            arguments,
            declared: value.clone(),
        })
    }
}

/// The controls of a `controls` list as written (entries that are neither a control
/// nor a `ref` are left to validation).
pub fn declared(list: Option<&Value>) -> Vec<Declared> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| match c.get("ref").and_then(Value::as_str) {
                    Some(name) => Some(Declared::Ref(name.to_string())),
                    None => Control::from_value(c, None).map(|c| Declared::Inline(Arc::new(c))),
                })
                .collect()
        })
        .unwrap_or_default()
}
