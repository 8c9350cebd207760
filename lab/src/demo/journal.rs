//! The facts the demo narrates, read through journal-report's model (the workspace's one
//! journal reader, tolerant of both runners' journals): this module only loads the file
//! and picks out what the story tells.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
pub use journal_report::model::{ActivityRun, Journal};
use journal_report::model::{Output, RunStatus};
use serde_json::Value;

/// Reads the journal the runner wrote at `path`.
pub fn load(path: &Path) -> Result<Journal> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("the runner wrote no journal at {}", path.display()))?;
    Journal::from_json(&text).with_context(|| format!("{} is not a JSON journal", path.display()))
}

/// A probe of the hypothesis check before (`after == false`) or after the method.
pub fn probe<'a>(journal: &'a Journal, name: &str, after: bool) -> Option<&'a ActivityRun> {
    let phase = if after {
        &journal.after
    } else {
        &journal.before
    };
    phase.as_ref()?.probes.iter().find(|run| run.name == name)
}

/// `succeeded` or `failed` (the activity itself, not the tolerance); `?` when unwritten.
pub fn status(run: &ActivityRun) -> &str {
    run.status.as_ref().map_or("?", RunStatus::as_str)
}

/// The exception text when the activity failed (a traceback's lines joined).
pub fn error(run: &ActivityRun) -> Option<String> {
    if run.exception.is_empty() {
        return None;
    }
    Some(run.exception.concat().trim().to_string())
}

/// The body of an http output (`Null` for any other).
pub fn body(run: &ActivityRun) -> &Value {
    match &run.output {
        Output::Http { body, .. } => body,
        _ => &Value::Null,
    }
}

/// A journal time as the traffic series keeps its times.
pub fn time(at: Option<DateTime<Utc>>) -> Option<SystemTime> {
    at.map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journal_report::model::Status;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "experiment": {},
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
            "run": [{"activity": {"name": "stop-provider-service"},
                     "output": {"status": 0, "stdout": "", "stderr": ""},
                     "status": "succeeded", "duration": 0.1,
                     "end": "2026-11-26T18:00:01.500000+00:00"},
                    {"activity": {"name": "naive"}, "end": "2026-11-26T18:00:01.5"},
                    {"activity": {"name": "vague"}, "end": "yesterday"}],
            "rollbacks": []
        })
    }

    #[test]
    fn facts_come_from_the_journal_structure() {
        let journal = Journal::from_value(sample()).unwrap();
        assert_eq!(journal.status, Status::Failed);
        assert!(journal.deviated);
        let after = probe(&journal, "consumer-service-must-still-respond", true).unwrap();
        assert_eq!(after.output.status_code(), Some(500));
        assert_eq!(after.tolerance_met, Some(false));
        assert_eq!(body(after)["cause"], "connection refused");
        assert_eq!(
            after.output.header("Content-Type"),
            Some("application/json")
        );
        let before = probe(&journal, "consumer-service-must-still-respond", false).unwrap();
        assert_eq!(before.tolerance_met, Some(true));
        assert_eq!(journal.method[0].name, "stop-provider-service");
        assert_eq!(journal.method[0].output.status_code(), Some(0));
        let end = time(journal.method[0].end).unwrap();
        // The Python toolkit writes times without an offset, meaning UTC.
        assert_eq!(time(journal.method[1].end), Some(end));
        assert_eq!(
            end.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            1_795_716_001_500
        );
        assert_eq!(time(journal.method[2].end), None);
    }

    #[test]
    fn a_journal_without_an_after_check_says_so() {
        let journal = Journal::from_value(
            json!({"experiment": {}, "status": "aborted", "steady_states": {"before": null}}),
        )
        .unwrap();
        assert_eq!(journal.after, None);
        assert_eq!(journal.before, None);
        assert!(!journal.deviated);
        let failed = Journal::from_value(json!({"experiment": {}, "run": [
            {"activity": {"name": "x"}, "status": "failed",
             "exception": ["Traceback\n", "ActivityFailed: boom\n"]}]}))
        .unwrap();
        assert_eq!(status(&failed.method[0]), "failed");
        assert_eq!(
            error(&failed.method[0]).as_deref(),
            Some("Traceback\nActivityFailed: boom")
        );
    }
}
