//! An activity (probe or action) read once from the experiment, kept as written for
//! the journal. [`crate::validate::activity`] holds its rules,
//! [`crate::engine::activity`] runs it.

use crate::control::ControlList;
use crate::provider::Provider;
use crate::python_value::py_str;
use serde_json::{Map, Value};

/// What `--dry` skips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dry {
    Probes,
    Actions,
    Activities,
    Pause,
}

impl Dry {
    pub fn as_str(self) -> &'static str {
        match self {
            Dry::Probes => "probes",
            Dry::Actions => "actions",
            Dry::Activities => "activities",
            Dry::Pause => "pause",
        }
    }
}

/// Whether an activity is a probe or an action (as its `type` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityKind {
    Probe,
    Action,
    /// Anything else, as written (empty when absent): validation reports it.
    Other(String),
}

impl ActivityKind {
    fn from_name(name: &str) -> Self {
        match name {
            "probe" => ActivityKind::Probe,
            "action" => ActivityKind::Action,
            other => ActivityKind::Other(other.to_string()),
        }
    }

    /// As the log line starts: `Probe`, `Action`.
    pub fn title(&self) -> String {
        match self {
            ActivityKind::Probe => "Probe".into(),
            ActivityKind::Action => "Action".into(),
            ActivityKind::Other(kind) => title_case(kind),
        }
    }
}

/// One entry of a method, of the rollbacks or of the hypothesis probes: an activity, or
/// something else written in its place (validation reports it; reaching it aborts).
pub type Entry = Result<Activity, NotAnActivity>;

/// An entry that is not a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct NotAnActivity;

/// An activity: read once from the experiment, kept as written for the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// As written: what the journal records.
    pub written: Map<String, Value>,
    pub kind: ActivityKind,
    /// The `name` when it is a string, else empty.
    pub name: String,
    /// The `name` as Python prints it (`None` when absent), for the rollback log line.
    pub label: String,
    /// `None` when absent or not a mapping.
    pub provider: Option<Provider>,
    /// As written (`${}` is resolved when it is checked); present even when `null`.
    pub tolerance: Option<Value>,
    /// As written (`${}` is resolved when the activity runs).
    pub pauses: Option<Value>,
    pub background: bool,
    /// Its own `controls` (applied around it with the experiment's automatic ones).
    pub controls: Vec<crate::control::Declared>,
    /// The activity this one stands for (a non-empty `ref`).
    pub reference: Option<String>,
    /// The fields the rules look at, as written.
    pub fields: Fields,
}

/// An activity's fields as written, where the rules look at their shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub kind: Option<Value>,
    pub name: Option<Value>,
    pub reference: Option<Value>,
    pub timeout: Option<Value>,
    /// `pauses.before` and `pauses.after`, when `pauses` is a mapping.
    pub pause_before: Option<Value>,
    pub pause_after: Option<Value>,
    pub background: Option<Value>,
    pub provider: Option<Value>,
    pub controls: Option<ControlList>,
    /// A safeguard probe's (`chaosaddons.controls.safeguards`): seconds between runs.
    pub frequency: Option<Value>,
}

impl Activity {
    pub fn from_value(value: &Value) -> Entry {
        value
            .as_object()
            .map(Activity::from_map)
            .ok_or(NotAnActivity)
    }

    pub fn from_map(written: &Map<String, Value>) -> Activity {
        let text = |key: &str| written.get(key).and_then(Value::as_str);
        let pauses = written.get("pauses").and_then(Value::as_object);
        let pause = |key: &str| pauses.and_then(|p| p.get(key)).cloned();
        Activity {
            kind: ActivityKind::from_name(text("type").unwrap_or("")),
            name: text("name").unwrap_or("").to_string(),
            label: written.get("name").map_or_else(|| "None".into(), py_str),
            provider: written.get("provider").and_then(Provider::from_value),
            tolerance: written.get("tolerance").cloned(),
            pauses: written.get("pauses").cloned(),
            background: written.get("background").and_then(Value::as_bool) == Some(true),
            controls: crate::control::declared(written.get("controls")),
            reference: text("ref").filter(|r| !r.is_empty()).map(str::to_string),
            fields: Fields {
                kind: written.get("type").cloned(),
                name: written.get("name").cloned(),
                reference: written.get("ref").cloned(),
                timeout: written.get("timeout").cloned(),
                pause_before: pause("before"),
                pause_after: pause("after"),
                background: written.get("background").cloned(),
                provider: written.get("provider").cloned(),
                controls: written.get("controls").map(ControlList::from_value),
                frequency: written.get("frequency").cloned(),
            },
            written: written.clone(),
        }
    }
}

fn title_case(kind: &str) -> String {
    let mut c = kind.chars();
    c.next()
        .map(|f| {
            f.to_uppercase()
                .chain(c.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}
