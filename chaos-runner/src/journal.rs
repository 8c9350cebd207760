//! The journal: what happened during a run, in the reference's exact shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Final status of a run. `deviated` is a separate flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Completed,
    Failed,
    Aborted,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
            Status::Interrupted => "interrupted",
        }
    }
}

/// Outcome of one activity run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

/// One activity run. Field order is the reference's. `status` is absent only when the
/// run was interrupted while the activity was running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRun {
    pub activity: Value,
    pub output: Value,
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// Error lines (the reference stores a formatted Python traceback here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Vec<String>>,
    pub end: String,
    pub duration: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_met: Option<bool>,
}

/// The result of one steady-state hypothesis run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisState {
    pub steady_state_met: Option<bool>,
    pub probes: Vec<ActivityRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SteadyStates {
    pub before: Option<HypothesisState>,
    pub after: Option<HypothesisState>,
    pub during: Vec<HypothesisState>,
}

/// The whole journal, serialized with the reference's keys and order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    #[serde(rename = "chaoslib-version")]
    pub chaoslib_version: String,
    pub platform: String,
    pub node: String,
    pub experiment: Value,
    pub start: String,
    pub status: Option<Status>,
    pub deviated: bool,
    pub steady_states: SteadyStates,
    pub run: Vec<ActivityRun>,
    pub rollbacks: Vec<ActivityRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

impl Journal {
    pub fn new(experiment: Value) -> Self {
        Journal {
            chaoslib_version: crate::CHAOSLIB_COMPAT_VERSION.to_string(),
            platform: platform(),
            node: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            experiment,
            start: now(),
            status: None,
            deviated: false,
            steady_states: SteadyStates::default(),
            run: Vec::new(),
            rollbacks: Vec::new(),
            end: None,
            duration: None,
        }
    }

    /// Writes the journal as indented JSON (UTF-8, not ASCII-escaped).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

/// ISO 8601 UTC timestamp with microseconds, as Python's `datetime.isoformat()`.
pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Like Python's `platform.platform()`: `Linux-<release>-<machine>`.
fn platform() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "{}-{}-{}",
        capitalized(std::env::consts::OS),
        release,
        std::env::consts::ARCH
    )
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_reference_order() {
        let j = Journal::new(serde_json::json!({"title": "t"}));
        let v = serde_json::to_value(&j).unwrap_or_default();
        let keys: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "chaoslib-version",
                "platform",
                "node",
                "experiment",
                "start",
                "status",
                "deviated",
                "steady_states",
                "run",
                "rollbacks"
            ]
        );
        assert!(
            j.start.ends_with("+00:00") && j.start.len() == 32,
            "{}",
            j.start
        );
        assert!(j.platform.starts_with("Linux-"));
    }
}
