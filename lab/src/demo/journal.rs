//! Reading a Chaos Toolkit journal for the facts the demo narrates.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::Value;

/// One activity as the journal recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRun {
    pub name: String,
    /// `succeeded` or `failed` (the activity itself, not the tolerance).
    pub status: String,
    /// Whether its output was within tolerance (probes of a hypothesis only).
    pub tolerance_met: Option<bool>,
    /// Seconds the activity took.
    pub duration: f64,
    /// `output.status`: the HTTP status (http) or exit code (process).
    pub output_status: Option<i64>,
    pub output: Value,
    /// The exception text when the activity failed.
    pub error: Option<String>,
    /// When it started and ended (both runners write ISO 8601 UTC; the Python toolkit
    /// without an offset).
    pub start: Option<SystemTime>,
    pub end: Option<SystemTime>,
}

/// The facts of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    pub status: String,
    pub deviated: bool,
    /// `None` when that hypothesis check did not run.
    pub before: Option<Vec<ActivityRun>>,
    pub after: Option<Vec<ActivityRun>>,
    pub method: Vec<ActivityRun>,
    pub rollbacks: Vec<ActivityRun>,
}

impl Journal {
    pub fn load(path: &Path) -> Result<Journal> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("the runner wrote no journal at {}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON journal", path.display()))?;
        Ok(Journal::from_value(&value))
    }

    pub fn from_value(journal: &Value) -> Journal {
        let probes = |phase: &str| {
            journal["steady_states"][phase]["probes"]
                .as_array()
                .map(|runs| runs.iter().map(activity_run).collect())
        };
        let runs = |key: &str| -> Vec<ActivityRun> {
            journal[key]
                .as_array()
                .map(|runs| runs.iter().map(activity_run).collect())
                .unwrap_or_default()
        };
        Journal {
            status: journal["status"].as_str().unwrap_or("unknown").to_string(),
            deviated: journal["deviated"].as_bool().unwrap_or(false),
            before: probes("before"),
            after: probes("after"),
            method: runs("run"),
            rollbacks: runs("rollbacks"),
        }
    }

    /// A probe of the hypothesis check before (`after == false`) or after the method.
    pub fn probe(&self, name: &str, after: bool) -> Option<&ActivityRun> {
        let phase = if after { &self.after } else { &self.before };
        phase.as_ref()?.iter().find(|run| run.name == name)
    }
}

fn activity_run(run: &Value) -> ActivityRun {
    let error = match &run["exception"] {
        Value::Null => None,
        Value::Array(lines) => Some(
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<String>()
                .trim()
                .to_string(),
        ),
        other => Some(other.to_string()),
    };
    ActivityRun {
        name: run["activity"]["name"].as_str().unwrap_or("?").to_string(),
        status: run["status"].as_str().unwrap_or("?").to_string(),
        tolerance_met: run["tolerance_met"].as_bool(),
        duration: run["duration"].as_f64().unwrap_or(0.0),
        output_status: run["output"]["status"].as_i64(),
        output: run["output"].clone(),
        error,
        start: run["start"].as_str().and_then(timestamp),
        end: run["end"].as_str().and_then(timestamp),
    }
}

/// An ISO 8601 time as the runners write it: with an offset (chaos-runner) or without
/// one, meaning UTC (Python's `datetime.utcnow().isoformat()`).
fn timestamp(text: &str) -> Option<SystemTime> {
    let utc = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .ok()?;
    Some(utc.into())
}

/// A header of an http output, looked up without regard to case.
pub fn header<'a>(output: &'a Value, name: &str) -> Option<&'a str> {
    output["headers"]
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "status": "failed",
            "deviated": true,
            "steady_states": {
                "before": {"steady_state_met": true, "probes": [
                    {"activity": {"name": "consumer-service-must-still-respond"},
                     "output": {"status": 200, "headers": {}, "body": "hi"},
                     "status": "succeeded", "duration": 0.004, "tolerance_met": true}
                ]},
                "after": {"steady_state_met": false, "probes": [
                    {"activity": {"name": "consumer-service-must-still-respond"},
                     "output": {"status": 500, "headers": {"content-type": "application/json"},
                                "body": {"error": "provider call failed", "cause": "connection refused"}},
                     "status": "succeeded", "duration": 0.002, "tolerance_met": false}
                ]},
                "during": []
            },
            "run": [{"activity": {"name": "stop-provider-service"}, "output": {"status": 0},
                     "status": "succeeded", "duration": 0.1,
                     "end": "2026-11-26T18:00:01.500000+00:00"}],
            "rollbacks": []
        })
    }

    #[test]
    fn facts_come_from_the_journal_structure() {
        let journal = Journal::from_value(&sample());
        assert_eq!(journal.status, "failed");
        assert!(journal.deviated);
        let after = journal
            .probe("consumer-service-must-still-respond", true)
            .unwrap();
        assert_eq!(after.output_status, Some(500));
        assert_eq!(after.tolerance_met, Some(false));
        assert_eq!(after.output["body"]["cause"], "connection refused");
        assert_eq!(
            header(&after.output, "Content-Type"),
            Some("application/json")
        );
        let before = journal
            .probe("consumer-service-must-still-respond", false)
            .unwrap();
        assert_eq!(before.tolerance_met, Some(true));
        assert_eq!(journal.method[0].name, "stop-provider-service");
        assert_eq!(journal.method[0].output_status, Some(0));
        let end = journal.method[0].end.unwrap();
        assert_eq!(timestamp("2026-11-26T18:00:01.5"), Some(end));
        assert_eq!(
            end.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            1_795_716_001_500
        );
        assert_eq!(timestamp("yesterday"), None);
    }

    #[test]
    fn a_journal_without_an_after_check_says_so() {
        let journal =
            Journal::from_value(&json!({"status": "aborted", "steady_states": {"before": null}}));
        assert_eq!(journal.after, None);
        assert_eq!(journal.before, None);
        assert!(!journal.deviated);
        let failed = activity_run(&json!({"activity": {"name": "x"}, "status": "failed",
            "exception": ["Traceback\n", "ActivityFailed: boom\n"]}));
        assert_eq!(
            failed.error.as_deref(),
            Some("Traceback\nActivityFailed: boom")
        );
    }
}
