//! Controls as declared: code that runs around the experiment, the hypothesis, the
//! method, the rollbacks and each activity (chaoslib's `controls`), and can stop the
//! run.
//!
//! A control is declared in the experiment (top level, the hypothesis, an activity, or
//! a `ref` to a top-level one) or in the settings file. Python controls run through the
//! bridge; `chaosaddons.controls.safeguards` is native. [`crate::validate::control`]
//! holds their rules, [`crate::engine::controls`] runs them.

use crate::activity::Entry;
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
    Safeguards { probes: Vec<Entry> },
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
                probes: crate::experiment::entries(arguments.get("probes")),
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

/// A `controls` list as written, entry by entry: what the rules check (the run uses
/// the [`Declared`] controls of the same list).
#[derive(Debug, Clone, PartialEq)]
pub enum ControlList {
    NotAList,
    Entries(Vec<ControlEntry>),
}

/// One entry of a `controls` list as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlEntry {
    NotAMapping,
    /// A reference to a top-level control: the `ref` as written.
    Ref(Value),
    Declaration(Box<Declaration>),
}

/// A control's declaration: its fields as written, and the control read from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declaration {
    /// The name given (a settings file's key) or written, when it is a string.
    pub name: Option<String>,
    pub provider: Option<Value>,
    pub scope: Option<Value>,
    /// The provider's `type` and `module` when they are strings, its `arguments`.
    pub provider_type: Option<String>,
    pub module: Option<String>,
    pub arguments: Option<Value>,
    /// `None` when it has no name.
    pub control: Option<Control>,
}

impl ControlList {
    pub fn from_value(list: &Value) -> ControlList {
        let Some(items) = list.as_array() else {
            return ControlList::NotAList;
        };
        ControlList::Entries(
            items
                .iter()
                .map(|c| match c.get("ref") {
                    _ if !c.is_object() => ControlEntry::NotAMapping,
                    Some(r) => ControlEntry::Ref(r.clone()),
                    None => Declaration::from_value(c, None)
                        .map_or(ControlEntry::NotAMapping, |d| {
                            ControlEntry::Declaration(Box::new(d))
                        }),
                })
                .collect(),
        )
    }

    /// The controls declared inline, each with its index in the list.
    pub fn inline(&self) -> Vec<(usize, &Control)> {
        match self {
            ControlList::NotAList => Vec::new(),
            ControlList::Entries(entries) => entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match e {
                    ControlEntry::Declaration(d) => d.control.as_ref().map(|c| (i, c)),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl Declaration {
    /// `None` when `value` is not a mapping. `name` is given for the settings file's
    /// controls, where the key names them.
    pub fn from_value(value: &Value, name: Option<&str>) -> Option<Declaration> {
        let c = value.as_object()?;
        let provider = c.get("provider");
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let in_provider = |key: &str| provider.and_then(Value::as_object).and_then(|p| p.get(key));
        Some(Declaration {
            name: name.map(str::to_string).or_else(|| text(c.get("name"))),
            provider: provider.cloned(),
            scope: c.get("scope").cloned(),
            provider_type: text(in_provider("type")),
            module: text(in_provider("module")),
            arguments: in_provider("arguments").cloned(),
            control: Control::from_value(value, name),
        })
    }
}
