//! The journal: what happened during a run, in the reference's exact shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// Keys a control added (an `after_experiment_control` may write its own into the
    /// journal, as the reference lets it), after the reference's own.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Journal {
    /// The keys `annotated` (the journal as a control left it) has that the journal
    /// itself does not, in their order; the journal's own keys are the engine's to set.
    pub fn keep_added_keys(&mut self, annotated: &Value) {
        let Some(annotated) = annotated.as_object() else {
            return;
        };
        const OWN: [&str; 12] = [
            "chaoslib-version",
            "platform",
            "node",
            "experiment",
            "start",
            "status",
            "deviated",
            "steady_states",
            "run",
            "rollbacks",
            "end",
            "duration",
        ];
        for (key, value) in annotated {
            if !OWN.contains(&key.as_str()) {
                self.extra.insert(key.clone(), value.clone());
            }
        }
    }
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
            extra: serde_json::Map::new(),
        }
    }

    /// Writes the journal as indented JSON (UTF-8, not ASCII-escaped), whole or not at
    /// all: the journal already at `path` survives a crash, a kill or a full disk
    /// ([`atomic_file`]; a FIFO or a device is written in place, `-` is stdout).
    pub fn write(&self, path: &Path) -> Result<(), WriteError> {
        let text = serde_json::to_string_pretty(self)?;
        atomic_file::write(path, text.as_bytes())?;
        Ok(())
    }
}

/// Why a journal could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot encode the journal: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    File(#[from] atomic_file::Error),
}

/// Where a run records what happens as it happens: the journal being written, and the
/// path it goes to. The engine only writes to it (it never decides anything from what
/// it recorded); a second termination signal can [`flush_interrupted`] it at any time.
/// Clones share the same journal.
///
/// [`flush_interrupted`]: JournalWriter::flush_interrupted
#[derive(Debug, Clone, Default)]
pub struct JournalWriter(Arc<WriterShared>);

#[derive(Debug, Default)]
struct WriterShared {
    path: Option<PathBuf>,
    journal: Mutex<Option<Journal>>,
}

impl JournalWriter {
    /// A writer for `path` (`None`: kept in memory only, e.g. for library callers).
    pub fn new(path: Option<PathBuf>) -> Self {
        JournalWriter(Arc::new(WriterShared {
            path,
            journal: Mutex::new(None),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Journal>> {
        self.0.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts recording `journal` (the run has begun).
    pub fn start(&self, journal: Journal) {
        *self.lock() = Some(journal);
    }

    /// Records something in the journal; `None` before [`start`](Self::start).
    pub fn record<T>(&self, change: impl FnOnce(&mut Journal) -> T) -> Option<T> {
        self.lock().as_mut().map(change)
    }

    /// The journal as it stands.
    pub fn snapshot(&self) -> Option<Journal> {
        self.lock().clone()
    }

    /// Where the journal is written, if anywhere.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// Writes the journal as it stands to the writer's path (nothing without a path or
    /// before the run started).
    pub fn write(&self) -> Result<(), WriteError> {
        match (self.path(), self.snapshot()) {
            (Some(path), Some(journal)) => journal.write(path),
            _ => Ok(()),
        }
    }

    /// Last resort on a second termination signal: writes the journal as it stands with
    /// status `interrupted`, unless it is being changed right now (never waits).
    /// Returns what it wrote, for the reports made from it.
    pub fn flush_interrupted(&self) -> Option<Journal> {
        let path = self.path()?;
        let slot = self.0.journal.try_lock().ok()?;
        let mut journal = slot.as_ref()?.clone();
        drop(slot);
        journal.status = Some(Status::Interrupted);
        journal.write(path).ok()?;
        Some(journal)
    }
}

/// ISO 8601 UTC timestamp with microseconds, as Python's `datetime.isoformat()`.
pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
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
