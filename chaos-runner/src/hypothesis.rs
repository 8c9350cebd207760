//! The steady-state hypothesis, read: its title, its probes (each with its tolerance)
//! and its controls. [`crate::engine::hypothesis`] runs it.

use crate::activity::Entry;
use crate::control::ControlList;
use crate::experiment::Shape;
use serde_json::Value;

/// The steady-state hypothesis, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// As Python prints the `title`.
    pub title: String,
    pub probes: Vec<Entry>,
    /// As written (what its controls receive as context).
    pub written: Value,
    pub controls: Vec<crate::control::Declared>,
    /// The `title`, `probes` and `controls` as written, for the rules.
    pub title_written: Option<Value>,
    pub probes_shape: Shape,
    pub control_list: Option<ControlList>,
}

impl Hypothesis {
    /// `None` unless `value` is a non-empty mapping (the reference runs none then).
    pub fn from_value(value: &Value) -> Option<Hypothesis> {
        let h = value.as_object().filter(|o| !o.is_empty())?;
        Some(Hypothesis {
            title: h
                .get("title")
                .map(crate::python_value::py_str)
                .unwrap_or_default(),
            probes: crate::experiment::entries(h.get("probes")),
            written: value.clone(),
            controls: crate::control::declared(h.get("controls")),
            title_written: h.get("title").cloned(),
            probes_shape: Shape::of(h.get("probes")),
            control_list: h.get("controls").map(ControlList::from_value),
        })
    }
}
