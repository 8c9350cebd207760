//! The journal as the renderers see it: typed, read-only, read once from JSON.
//!
//! Tolerant by design: it reads what chaos-runner writes and what the Python `chaos`
//! 1.19 writes (and older ones: naive timestamps, missing keys). Only `experiment` is
//! required, so that any other JSON file is not taken for a journal; a key of the
//! wrong type is an error naming it.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// How a run ended (`status`); `deviated` is a separate flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Completed,
    Failed,
    Aborted,
    Interrupted,
    /// A status this crate does not know, kept as written.
    Other(String),
    /// `null` or absent: the run had not ended when the journal was written.
    Unknown,
}

impl Status {
    fn from_raw(raw: Option<String>) -> Self {
        match raw.as_deref() {
            None => Status::Unknown,
            Some("completed") => Status::Completed,
            Some("failed") => Status::Failed,
            Some("aborted") => Status::Aborted,
            Some("interrupted") => Status::Interrupted,
            Some(other) => Status::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Aborted => "aborted",
            Status::Interrupted => "interrupted",
            Status::Other(s) => s,
            Status::Unknown => "unknown",
        }
    }
}

/// The verdict a reader wants first: the run completed and the steady state held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Deviated,
    /// The hypothesis was not met before the method, so the method did not run (the
    /// journal still says `completed`, as the reference's does).
    NotMetBefore,
    /// Failed, aborted, interrupted or unknown.
    NotCompleted,
}

/// Where an activity ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Before,
    Method,
    /// The n-th (from 1) run of the continuous hypothesis.
    During(usize),
    After,
    Rollbacks,
}

impl Phase {
    /// A short key: `before`, `method`, `during`, `after`, `rollbacks`.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::Method => "method",
            Phase::During(_) => "during",
            Phase::After => "after",
            Phase::Rollbacks => "rollbacks",
        }
    }

    /// What a reader calls it.
    pub fn label(self) -> String {
        match self {
            Phase::Before => "steady state before the method".into(),
            Phase::Method => "method".into(),
            Phase::During(n) => format!("steady state during the method (#{n})"),
            Phase::After => "steady state after the method".into(),
            Phase::Rollbacks => "rollbacks".into(),
        }
    }
}

/// `probe` or `action` (anything else is kept as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Probe,
    Action,
    Other(String),
}

/// What an activity run ended with (`status`); `None` in [`ActivityRun::status`] when
/// the run was interrupted while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Other(String),
}

/// What a provider returned, as far as the journal says.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `null` or absent (the activity failed, or never finished).
    None,
    Http {
        status: Value,
        body: Value,
        /// The response headers, names as written (values that are not text left out).
        headers: Vec<(String, String)>,
    },
    Process {
        status: Value,
        stdout: String,
        stderr: String,
    },
    /// A Python function's return value, or any other shape.
    Value(Value),
}

/// One activity run, from a hypothesis, the method or the rollbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRun {
    pub name: String,
    pub kind: Kind,
    /// The activity's provider type (`http`, `process`, `python`), if written.
    pub provider: Option<String>,
    /// The tolerance as the experiment wrote it (probes of a hypothesis).
    pub tolerance: Option<Value>,
    pub status: Option<RunStatus>,
    pub output: Output,
    /// Error lines (a Python traceback, or chaos-runner's message).
    pub exception: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Seconds, as written (never negative here).
    pub duration: Option<f64>,
    pub tolerance_met: Option<bool>,
}

impl ActivityRun {
    /// Whether this run counts as a failure: it did not succeed, or (a hypothesis probe)
    /// its value was outside its tolerance.
    pub fn failed(&self) -> bool {
        self.status != Some(RunStatus::Succeeded) || self.tolerance_met == Some(false)
    }

    /// The last error line, trimmed: the message itself in a Python traceback.
    pub fn error_message(&self) -> Option<&str> {
        self.exception
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
    }
}

/// One run of the steady-state hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub met: Option<bool>,
    pub probes: Vec<ActivityRun>,
}

/// A journal, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    pub title: String,
    pub description: Option<String>,
    pub status: Status,
    pub deviated: bool,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub duration: Option<f64>,
    pub node: Option<String>,
    pub platform: Option<String>,
    pub chaoslib_version: Option<String>,
    pub before: Option<Hypothesis>,
    pub during: Vec<Hypothesis>,
    pub after: Option<Hypothesis>,
    pub method: Vec<ActivityRun>,
    pub rollbacks: Vec<ActivityRun>,
}

impl Journal {
    pub fn verdict(&self) -> Verdict {
        let not_met_before = self.before.as_ref().is_some_and(|h| h.met == Some(false));
        match (&self.status, self.deviated) {
            (_, true) => Verdict::Deviated,
            (Status::Completed, false) if not_met_before => Verdict::NotMetBefore,
            (Status::Completed, false) => Verdict::Passed,
            _ => Verdict::NotCompleted,
        }
    }

    /// Every activity run with its phase, in the order they ran (during runs last
    /// before the hypothesis after, as they overlap the method).
    pub fn activities(&self) -> Vec<(Phase, &ActivityRun)> {
        let mut all = Vec::new();
        if let Some(h) = &self.before {
            all.extend(h.probes.iter().map(|p| (Phase::Before, p)));
        }
        all.extend(self.method.iter().map(|a| (Phase::Method, a)));
        for (i, h) in self.during.iter().enumerate() {
            all.extend(h.probes.iter().map(|p| (Phase::During(i + 1), p)));
        }
        if let Some(h) = &self.after {
            all.extend(h.probes.iter().map(|p| (Phase::After, p)));
        }
        all.extend(self.rollbacks.iter().map(|a| (Phase::Rollbacks, a)));
        all
    }

    /// The hypotheses that ran, with their phase.
    pub fn hypotheses(&self) -> Vec<(Phase, &Hypothesis)> {
        let mut all = Vec::new();
        if let Some(h) = &self.before {
            all.push((Phase::Before, h));
        }
        all.extend(
            self.during
                .iter()
                .enumerate()
                .map(|(i, h)| (Phase::During(i + 1), h)),
        );
        if let Some(h) = &self.after {
            all.push((Phase::After, h));
        }
        all
    }

    /// The probe that broke the hypothesis (the last one run of the first hypothesis
    /// not met, before or after; else of a continuous run), with its phase.
    pub fn failing_probe(&self) -> Option<(Phase, &ActivityRun)> {
        let mut order: Vec<(Phase, &Hypothesis)> = Vec::new();
        order.extend(self.before.iter().map(|h| (Phase::Before, h)));
        order.extend(self.after.iter().map(|h| (Phase::After, h)));
        order.extend(
            self.during
                .iter()
                .enumerate()
                .map(|(i, h)| (Phase::During(i + 1), h)),
        );
        order.into_iter().find_map(|(phase, h)| {
            if h.met != Some(false) {
                return None;
            }
            h.probes
                .iter()
                .rev()
                .find(|p| p.failed())
                .map(|p| (phase, p))
        })
    }

    /// Reads a journal from JSON text.
    pub fn from_json(text: &str) -> Result<Self, JournalError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: raw::Journal = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            JournalError::Parse {
                line: inner.line(),
                column: inner.column(),
                field: (field != "." && !field.is_empty()).then_some(field),
                message: message_without_position(&inner),
            }
        })?;
        de.end().map_err(|e| JournalError::Parse {
            line: e.line(),
            column: e.column(),
            field: None,
            message: message_without_position(&e),
        })?;
        Ok(raw.into())
    }

    /// Reads a journal from a JSON value (e.g. one a runner holds in memory).
    pub fn from_value(value: Value) -> Result<Self, JournalError> {
        let raw: raw::Journal = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = e.path().to_string();
            JournalError::Parse {
                line: 0,
                column: 0,
                field: (field != "." && !field.is_empty()).then_some(field),
                message: e.into_inner().to_string(),
            }
        })?;
        Ok(raw.into())
    }

    /// Reads the journal file at `path`.
    pub fn read(path: &Path) -> Result<Self, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReadError {
            path: path.to_path_buf(),
            kind: JournalError::Io(source),
        })?;
        Journal::from_json(&text).map_err(|kind| ReadError {
            path: path.to_path_buf(),
            kind,
        })
    }
}

/// serde_json's message ends with " at line L column C"; we say where ourselves.
fn message_without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if e.line() > 0 => text[..i].to_string(),
        _ => text,
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{0}")]
    Io(std::io::Error),
    /// Not JSON, or not a journal. `line` is 0 when read from a value.
    #[error("{}{}{message}", position(*line, *column), field.as_deref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Parse {
        line: usize,
        column: usize,
        field: Option<String>,
        message: String,
    },
}

fn position(line: usize, column: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line} column {column}: ")
    }
}

/// A journal file that could not be read, with its path.
#[derive(Debug, thiserror::Error)]
#[error("journal {}: {kind}", path.display())]
pub struct ReadError {
    pub path: std::path::PathBuf,
    pub kind: JournalError,
}

/// A timestamp as the runners write it: RFC 3339 (`+00:00`), or naive and taken as UTC
/// (older chaostoolkit-lib). Anything else is left out of the timeline.
fn timestamp(text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// The text of a value as a person reads it: strings without their quotes.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The JSON as written, parsed with serde; converted to the model above.
mod raw {
    use super::*;

    // The Python reference writes `null` for some lists and objects; read it as empty.
    fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: serde::Deserializer<'de>,
        T: Default + Deserialize<'de>,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    #[derive(Deserialize)]
    pub(super) struct Journal {
        #[serde(rename = "chaoslib-version", default)]
        chaoslib_version: Option<String>,
        #[serde(default)]
        platform: Option<String>,
        #[serde(default)]
        node: Option<String>,
        experiment: Experiment,
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        duration: Option<f64>,
        #[serde(default)]
        status: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        deviated: bool,
        #[serde(default, deserialize_with = "null_as_default")]
        steady_states: SteadyStates,
        #[serde(default, deserialize_with = "null_as_default")]
        run: Vec<Run>,
        #[serde(default, deserialize_with = "null_as_default")]
        rollbacks: Vec<Run>,
    }

    #[derive(Deserialize)]
    struct Experiment {
        // Any JSON: a title substituted from configuration may be a number.
        #[serde(default)]
        title: Value,
        #[serde(default)]
        description: Value,
    }

    #[derive(Deserialize, Default)]
    struct SteadyStates {
        #[serde(default)]
        before: Option<Hypothesis>,
        #[serde(default)]
        after: Option<Hypothesis>,
        #[serde(default, deserialize_with = "null_as_default")]
        during: Vec<Hypothesis>,
    }

    #[derive(Deserialize)]
    struct Hypothesis {
        #[serde(default)]
        steady_state_met: Option<bool>,
        #[serde(default, deserialize_with = "null_as_default")]
        probes: Vec<Run>,
    }

    #[derive(Deserialize)]
    struct Run {
        #[serde(default)]
        activity: Activity,
        #[serde(default)]
        output: Value,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        exception: Option<Exception>,
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        duration: Option<f64>,
        #[serde(default)]
        tolerance_met: Option<bool>,
    }

    /// The reference writes traceback lines; accept one string too.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Exception {
        Lines(Vec<String>),
        One(String),
    }

    #[derive(Deserialize, Default)]
    struct Activity {
        #[serde(default)]
        name: Value,
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        tolerance: Option<Value>,
        #[serde(default)]
        provider: Option<Provider>,
    }

    #[derive(Deserialize)]
    struct Provider {
        #[serde(rename = "type", default)]
        kind: Option<String>,
    }

    fn text(value: Value) -> Option<String> {
        Some(plain(&value)).filter(|s| !s.is_empty())
    }

    fn seconds(d: Option<f64>) -> Option<f64> {
        d.filter(|d| d.is_finite()).map(|d| d.max(0.0))
    }

    impl From<Journal> for super::Journal {
        fn from(j: Journal) -> Self {
            super::Journal {
                title: text(j.experiment.title).unwrap_or_else(|| "(untitled)".into()),
                description: text(j.experiment.description),
                status: Status::from_raw(j.status),
                deviated: j.deviated,
                start: timestamp(j.start.as_deref()),
                end: timestamp(j.end.as_deref()),
                duration: seconds(j.duration),
                node: j.node,
                platform: j.platform,
                chaoslib_version: j.chaoslib_version,
                before: j.steady_states.before.map(Into::into),
                during: j.steady_states.during.into_iter().map(Into::into).collect(),
                after: j.steady_states.after.map(Into::into),
                method: j.run.into_iter().map(Into::into).collect(),
                rollbacks: j.rollbacks.into_iter().map(Into::into).collect(),
            }
        }
    }

    impl From<Hypothesis> for super::Hypothesis {
        fn from(h: Hypothesis) -> Self {
            super::Hypothesis {
                met: h.steady_state_met,
                probes: h.probes.into_iter().map(Into::into).collect(),
            }
        }
    }

    impl From<Run> for ActivityRun {
        fn from(r: Run) -> Self {
            let kind = match r.activity.kind.as_deref() {
                Some("probe") => Kind::Probe,
                Some("action") => Kind::Action,
                other => Kind::Other(other.unwrap_or("").to_string()),
            };
            let status = r.status.map(|s| match s.as_str() {
                "succeeded" => RunStatus::Succeeded,
                "failed" => RunStatus::Failed,
                _ => RunStatus::Other(s),
            });
            let exception = match r.exception {
                Some(Exception::Lines(lines)) => lines,
                Some(Exception::One(line)) => vec![line],
                None => Vec::new(),
            };
            let provider = r.activity.provider.and_then(|p| p.kind);
            ActivityRun {
                name: text(r.activity.name).unwrap_or_else(|| "(unnamed)".into()),
                kind,
                output: output(r.output, provider.as_deref()),
                provider,
                tolerance: r.activity.tolerance,
                status,
                exception,
                start: timestamp(r.start.as_deref()),
                end: timestamp(r.end.as_deref()),
                duration: seconds(r.duration),
                tolerance_met: r.tolerance_met,
            }
        }
    }

    /// The http provider writes `{status, headers, body}`, the process provider
    /// `{status, stdout, stderr}`; a python provider's is a value whatever its shape.
    fn output(value: Value, provider: Option<&str>) -> Output {
        match value {
            Value::Null => Output::None,
            other if provider == Some("python") => Output::Value(other),
            Value::Object(mut o)
                if o.contains_key("status") && o.contains_key("body") && o.len() <= 3 =>
            {
                Output::Http {
                    status: o.remove("status").unwrap_or_default(),
                    body: o.remove("body").unwrap_or_default(),
                    headers: headers(o.remove("headers")),
                }
            }
            Value::Object(mut o)
                if o.contains_key("status")
                    && (o.contains_key("stdout") || o.contains_key("stderr"))
                    && o.len() <= 3 =>
            {
                let mut stream = |k: &str| o.remove(k).map(|v| plain(&v)).unwrap_or_default();
                let (stdout, stderr) = (stream("stdout"), stream("stderr"));
                Output::Process {
                    status: o.remove("status").unwrap_or_default(),
                    stdout,
                    stderr,
                }
            }
            other => Output::Value(other),
        }
    }

    fn headers(value: Option<Value>) -> Vec<(String, String)> {
        let Some(Value::Object(map)) = value else {
            return Vec::new();
        };
        map.into_iter()
            .filter_map(|(name, value)| match value {
                Value::String(value) => Some((name, value)),
                _ => None,
            })
            .collect()
    }
}

// What a reader other than the renderers asks of a run (the lab's demo narrates it).
impl Output {
    /// The HTTP status, or the process's exit code, when it is an integer.
    pub fn status_code(&self) -> Option<i64> {
        match self {
            Output::Http { status, .. } | Output::Process { status, .. } => status.as_i64(),
            Output::None | Output::Value(_) => None,
        }
    }

    /// An HTTP response header, its name matched without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        let Output::Http { headers, .. } = self else {
            return None;
        };
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl RunStatus {
    pub fn as_str(&self) -> &str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Other(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_experiment_is_required() {
        let j = Journal::from_json(r#"{"experiment": {"title": "t"}}"#).expect("reads");
        assert_eq!(j.title, "t");
        assert_eq!(j.status, Status::Unknown);
        assert_eq!(j.verdict(), Verdict::NotCompleted);
        let e = Journal::from_json("{}").expect_err("not a journal");
        assert!(e.to_string().contains("missing field `experiment`"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_field_and_the_position() {
        let text = "{\"experiment\": {},\n \"steady_states\": {\"before\": {\"probes\": [{\"status\": 5}]}}}";
        let e = Journal::from_json(text).expect_err("wrong type");
        let shown = e.to_string();
        assert!(shown.starts_with("line 2 column "), "{shown}");
        assert!(
            shown.contains("field `steady_states.before.probes[0].status`"),
            "{shown}"
        );
        assert!(shown.contains("invalid type: integer `5`"), "{shown}");
    }

    #[test]
    fn trailing_garbage_and_truncation_are_errors() {
        assert!(Journal::from_json(r#"{"experiment": {}} x"#).is_err());
        let e = Journal::from_json("{\"experiment\": {\"title\": \"t\"").expect_err("cut");
        assert!(e.to_string().contains("line 1 column"), "{e}");
    }

    #[test]
    fn outputs_are_told_apart_and_timestamps_read_both_ways() {
        let j = Journal::from_value(json!({
            "experiment": {"title": 42},
            "start": "2019-04-01T10:00:00.5",
            "run": [
                {"activity": {"name": "h", "type": "action"}, "status": "succeeded",
                 "output": {"status": 404, "headers": {}, "body": "gone"},
                 "start": "2026-12-02T02:08:06.581943+00:00", "duration": -1.0},
                {"activity": {"name": "p"}, "status": "failed", "output": {"status": 3, "stdout": "x", "stderr": ""},
                 "exception": "boom"},
                {"activity": {}, "output": [1, 2]}
            ]
        }))
        .expect("reads");
        assert_eq!(j.title, "42");
        assert!(j.start.is_some());
        assert_eq!(
            j.method[0].output,
            Output::Http {
                status: json!(404),
                body: json!("gone"),
                headers: Vec::new()
            }
        );
        assert!(j.method[0].start.is_some());
        assert_eq!(j.method[0].duration, Some(0.0));
        assert!(matches!(j.method[1].output, Output::Process { .. }));
        assert_eq!(j.method[1].error_message(), Some("boom"));
        assert_eq!(j.method[2].name, "(unnamed)");
        assert_eq!(j.method[2].output, Output::Value(json!([1, 2])));
        assert!(j.method[2].failed(), "no status: not a success");
    }

    #[test]
    fn http_headers_and_exit_codes_are_kept_for_other_readers() {
        let j = Journal::from_value(json!({
            "experiment": {},
            "run": [
                {"activity": {"name": "h"}, "status": "succeeded",
                 "output": {"status": 200, "headers": {"X-Fallback": "true", "n": 1}, "body": ""}},
                {"activity": {"name": "p"}, "status": "failed",
                 "output": {"status": 3, "stdout": "", "stderr": ""}},
                {"activity": {"name": "v"}, "output": {"status": 1}}
            ]
        }))
        .expect("reads");
        let http = &j.method[0].output;
        assert_eq!(http.status_code(), Some(200));
        assert_eq!(http.header("x-fallback"), Some("true"));
        assert_eq!(http.header("n"), None, "not text");
        assert_eq!(j.method[1].output.status_code(), Some(3));
        assert_eq!(j.method[1].output.header("x-fallback"), None);
        assert_eq!(
            j.method[2].output.status_code(),
            None,
            "not an http or process output"
        );
        assert_eq!(
            j.method[0].status.as_ref().map(RunStatus::as_str),
            Some("succeeded")
        );
        assert_eq!(
            j.method[1].status.as_ref().map(RunStatus::as_str),
            Some("failed")
        );
    }
}
