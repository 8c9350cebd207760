//! Loading an experiment (JSON or YAML) from a local file or an http(s) URL, and
//! reading it into an [`Experiment`].
//!
//! A loaded experiment is a `serde_json::Value` with its keys in file order: the journal
//! must echo it unchanged, unknown keys included. [`crate::validate`] checks that value's
//! shape; the run then reads it once, here, into types, as leniently as the reference
//! does (a run may skip validation).

use crate::activity::{Activity, Entry};
use crate::control::{ControlList, Declared};
use crate::hypothesis::Hypothesis;
use crate::runtime::AsyncRuntime;
use crate::strategy::RollbackStrategy;
use crate::strategy::Strategy;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: cannot read: {reason}")]
    Read { origin: String, reason: String },
    #[error("{origin}:{line}:{column}: invalid {format}: {reason}")]
    Syntax {
        origin: String,
        format: &'static str,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{origin}: invalid {format}: {reason}")]
    SyntaxNoPosition {
        origin: String,
        format: &'static str,
        reason: String,
    },
    #[error("{origin}: cannot fetch: {reason}")]
    Fetch { origin: String, reason: String },
    #[error("{0}: path does not exist")]
    NotFound(String),
    #[error("{0}: unsupported source scheme (use a local path or an http(s) URL)")]
    Scheme(String),
}

/// Which syntax to parse a document as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// Unknown: JSON when it parses as JSON, YAML otherwise.
    Sniff,
}

/// A value as written, by shape: what the rules look at where the shape is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// Absent, or `null`.
    #[default]
    Missing,
    Mapping {
        empty: bool,
    },
    List,
    /// Anything else.
    Other,
}

impl Shape {
    pub fn of(value: Option<&Value>) -> Shape {
        match value {
            None | Some(Value::Null) => Shape::Missing,
            Some(Value::Object(o)) => Shape::Mapping {
                empty: o.is_empty(),
            },
            Some(Value::Array(_)) => Shape::List,
            Some(_) => Shape::Other,
        }
    }
}

/// An experiment, read once: the typed values the rules and the run use, and the
/// document as loaded, which the journal echoes and control hooks receive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Experiment {
    /// As loaded (unknown keys included, in file order).
    pub written: Value,
    /// The document's own shape (the rules want a non-empty mapping).
    pub shape: Shape,
    /// As written (`${}` is resolved for the journal).
    pub title: Option<Value>,
    pub description: Option<Value>,
    pub tags: Option<Value>,
    pub extensions: Option<Value>,
    /// Each extension's name, trimmed, when it is a string (when `extensions` is a list).
    pub extension_names: Vec<Option<String>>,
    /// The `configuration` and `secrets` sections, as [`crate::config`] loads them.
    pub configuration: Option<Value>,
    pub secrets: Option<Value>,
    /// The top-level controls, and their list as written (for the control rules).
    pub controls: Vec<Declared>,
    pub control_list: Option<ControlList>,
    /// The names a `ref` may name: the top-level controls without a `ref` of their own.
    pub control_names: Vec<String>,
    /// The controls declared below the top level (on the hypothesis and the
    /// activities): the run configures and cleans them up with the top-level ones.
    pub nested_controls: Vec<Declared>,
    pub hypothesis_shape: Shape,
    /// A non-empty `steady-state-hypothesis` mapping.
    pub hypothesis: Option<Hypothesis>,
    pub method_shape: Shape,
    pub method: Vec<Entry>,
    pub rollbacks_shape: Shape,
    pub rollbacks: Vec<Entry>,
    /// The `runtime` and `contributions` sections, as written.
    pub runtime: Option<Value>,
    pub contributions: Option<Value>,
    /// `runtime.hypothesis.strategy`, when it names one.
    pub hypothesis_strategy: Option<Strategy>,
    /// `runtime.rollbacks.strategy`, when it names one.
    pub rollback_strategy: Option<RollbackStrategy>,
}

/// The entries of a list of activities (none when it is not a list).
pub(crate) fn entries(list: Option<&Value>) -> Vec<Entry> {
    list.and_then(Value::as_array)
        .map(|items| items.iter().map(Activity::from_value).collect())
        .unwrap_or_default()
}

impl Experiment {
    /// Reads the loaded document (leniently, as the reference does: a run may skip
    /// validation); done once per command.
    pub fn from_value(experiment: Value) -> Experiment {
        let get = |key: &str| experiment.get(key);
        // A strategy named in the `runtime` section: the command line's names (and aliases).
        fn strategy<T: clap::ValueEnum>(experiment: &Value, section: &str) -> Option<T> {
            let name = experiment
                .get("runtime")
                .and_then(|r| r.get(section))
                .and_then(|s| s.get("strategy"))
                .and_then(Value::as_str)?;
            T::from_str(name, false).ok()
        }
        let extension_names = get("extensions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                e.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim().to_string())
            })
            .collect();
        let mut e = Experiment {
            shape: Shape::of(Some(&experiment)),
            title: get("title").cloned(),
            description: get("description").cloned(),
            tags: get("tags").cloned(),
            extensions: get("extensions").cloned(),
            extension_names,
            configuration: get("configuration").cloned(),
            secrets: get("secrets").cloned(),
            controls: crate::control::declared(get("controls")),
            control_list: get("controls").map(ControlList::from_value),
            control_names: get("controls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| c.get("ref").is_none())
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                .collect(),
            nested_controls: Vec::new(),
            hypothesis_shape: Shape::of(get("steady-state-hypothesis")),
            hypothesis: get("steady-state-hypothesis").and_then(Hypothesis::from_value),
            method_shape: Shape::of(get("method")),
            method: entries(get("method")),
            rollbacks_shape: Shape::of(get("rollbacks")),
            rollbacks: entries(get("rollbacks")),
            runtime: get("runtime").cloned(),
            contributions: get("contributions").cloned(),
            hypothesis_strategy: strategy(&experiment, "hypothesis"),
            rollback_strategy: strategy(&experiment, "rollbacks"),
            written: Value::Null,
        };
        e.written = experiment;
        let hypothesis = e.hypothesis.iter();
        let activities = hypothesis
            .clone()
            .flat_map(|h| &h.probes)
            .chain(&e.method)
            .chain(&e.rollbacks)
            .filter_map(|a| a.as_ref().ok());
        e.nested_controls = hypothesis
            .flat_map(|h| h.controls.iter().cloned())
            .chain(activities.flat_map(|a| a.controls.iter().cloned()))
            .collect();
        e
    }

    /// Whether the experiment has a hypothesis with at least one probe.
    pub fn has_hypothesis(&self) -> bool {
        self.hypothesis
            .as_ref()
            .is_some_and(|h| !h.probes.is_empty())
    }

    /// The activity named `name` among the method and the hypothesis probes (the
    /// reference's activity cache: later entries win, hypothesis last).
    pub fn lookup(&self, name: &str) -> Option<&Activity> {
        let probes = self.hypothesis.iter().flat_map(|h| &h.probes);
        self.method
            .iter()
            .chain(probes)
            .filter_map(|e| e.as_ref().ok())
            .rfind(|a| a.name == name)
    }
}

/// Loads an experiment from `source`: an existing file path, else an http(s) URL
/// (fetched on `runtime`, which is only started for a URL).
pub fn load(source: &str, verify_tls: bool, runtime: &AsyncRuntime) -> Result<Value, LoadError> {
    let path = Path::new(source);
    if path.exists() {
        let bytes = read_document(path).map_err(|reason| LoadError::Read {
            origin: source.to_string(),
            reason,
        })?;
        let text = decode(source, bytes)?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            Some("yaml") | Some("yml") => Format::Yaml,
            _ => Format::Sniff,
        };
        return parse(source, &text, format);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        return fetch(source, verify_tls, runtime);
    }
    if source.contains("://") {
        return Err(LoadError::Scheme(source.to_string()));
    }
    Err(LoadError::NotFound(source.to_string()))
}

fn fetch(url: &str, verify_tls: bool, runtime: &AsyncRuntime) -> Result<Value, LoadError> {
    let fail = |reason: String| LoadError::Fetch {
        origin: url.to_string(),
        reason,
    };
    let (status, content_type, text) = runtime
        .block_on(|| get(url, verify_tls))
        .map_err(&fail)?
        .map_err(|e| fail(e.to_string()))?;
    let text = text.map_err(fail)?;
    if status.as_u16() != 200 {
        return Err(fail(format!("HTTP status {status}")));
    }
    let format = if content_type.contains("json") {
        Format::Json
    } else if content_type.contains("yaml") {
        Format::Yaml
    } else {
        Format::Sniff
    };
    parse(url, &text, format)
}

/// The largest experiment document (a file, or fetched from a URL) and var file.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// A local document (experiment, var file): a regular file (not `/dev/zero`, a FIFO, a
/// directory) of at most [`MAX_DOCUMENT_BYTES`]; the error says which rule it broke.
pub fn read_document(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    // Checked before opening too: opening a FIFO would wait for a writer.
    let is_file = |m: std::io::Result<std::fs::Metadata>| {
        m.map_err(|e| format!("cannot read: {e}"))
            .map(|m| m.is_file())
    };
    if !is_file(std::fs::metadata(path))? {
        return Err("not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let metadata = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    let too_large = |size: u64| {
        format!(
            "is larger than {} MiB ({size} bytes)",
            MAX_DOCUMENT_BYTES >> 20
        )
    };
    if metadata.len() > MAX_DOCUMENT_BYTES as u64 {
        return Err(too_large(metadata.len()));
    }
    // Read no further than the cap, should the file grow meanwhile.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What went wrong with a request, cause by cause ("error sending request" alone does not
/// say whether the port was closed, the server silent or the certificate refused).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no complete answer within 60 s".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// GETs the experiment: status, content type and body (capped at
/// [`MAX_DOCUMENT_BYTES`]).
async fn get(
    url: &str,
    verify_tls: bool,
) -> Result<(reqwest::StatusCode, String, Result<String, String>), String> {
    request(url, verify_tls).await.map_err(|e| describe(&e))
}

async fn request(
    url: &str,
    verify_tls: bool,
) -> Result<(reqwest::StatusCode, String, Result<String, String>), reqwest::Error> {
    crate::tls::install_default_provider();
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(!verify_tls)
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut request = client
        .get(url)
        .header("Accept", "application/json, application/x-yaml");
    // Same variable as the reference loader for authenticated experiment stores.
    if let Ok(token) = std::env::var("CHAOSTOOLKIT_LOADER_AUTH_BEARER_TOKEN") {
        request = request.header("Authorization", format!("bearer {}", token.trim()));
    }
    let response = request.send().await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let too_large = || {
        format!(
            "the document is larger than {} MiB",
            MAX_DOCUMENT_BYTES >> 20
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Ok((status, content_type, Err(too_large())));
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Ok((status, content_type, Err(too_large())));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|_| "the document is not UTF-8 text".to_string());
    Ok((status, content_type, text))
}

/// The file's text: UTF-8, or an error at the line and column of the first bad byte.
fn decode(source: &str, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        LoadError::Syntax {
            origin: source.to_string(),
            format: "UTF-8",
            line,
            column,
            reason: "the file must be UTF-8 text, and this byte is not".to_string(),
        }
    })
}

/// Parses `text` as an experiment document; errors carry line:column where known.
pub fn parse(source: &str, text: &str, format: Format) -> Result<Value, LoadError> {
    // A byte-order mark is no part of the document (editors on Windows write one).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => parse_json(source, text),
        Format::Yaml => parse_yaml(source, text),
        Format::Sniff => parse_json(source, text).or_else(|json_err| {
            // A document starting like JSON reports the JSON error: it is more precise.
            if text.trim_start().starts_with(['{', '[']) {
                Err(json_err)
            } else {
                parse_yaml(source, text)
            }
        }),
    }
}

fn parse_json(source: &str, text: &str) -> Result<Value, LoadError> {
    let (value, repeated) =
        crate::strict_json::parse_json(text).map_err(|e| LoadError::Syntax {
            origin: source.to_string(),
            format: "JSON",
            line: e.line(),
            // serde_json says column 0 for "before the first character" (an early end of
            // file after a newline); editors count from 1.
            column: e.column().max(1),
            reason: strip_position(&e.to_string()),
        })?;
    for at in repeated {
        tracing::warn!("{source}: a key appears more than once in {at} (the last one counts)");
    }
    Ok(value)
}

fn parse_yaml(source: &str, text: &str) -> Result<Value, LoadError> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| match e.location() {
        Some(loc) => LoadError::Syntax {
            origin: source.to_string(),
            format: "YAML",
            line: loc.line() as usize,
            column: loc.column() as usize,
            reason: yaml_reason(&e.to_string()),
        },
        None => LoadError::SyntaxNoPosition {
            origin: source.to_string(),
            format: "YAML",
            reason: yaml_reason(&e.to_string()),
        },
    })
}

/// serde-saphyr's message without what we print ourselves: its own "error: line L
/// column C:" prefix, the source snippet under it, and hints meant for programmers.
fn yaml_reason(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.split_once(": ") {
        Some((place, rest)) if place.starts_with("line ") && place.contains(" column ") => rest,
        _ => first,
    };
    let first = first
        .split_once(", set DuplicateKeyPolicy")
        .map_or(first, |(reason, _)| reason);
    strip_position(first)
}

/// serde errors end with " at line L column C"; we print the position up front instead.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_has_line_and_column() {
        let err = parse("x.json", "{\n  \"title\": \"t\",\n  oops\n}", Format::Json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("x.json:3:3: invalid JSON: key must be a string"),
            "{err}"
        );
    }

    #[test]
    fn yaml_error_has_line_and_column() {
        let err = parse("x.yaml", "title: t\nmethod: [\n", Format::Yaml)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("x.yaml:"), "{err}");
        assert!(err.contains("invalid YAML"), "{err}");
    }

    #[test]
    fn sniffing_reads_yaml_and_json() {
        assert!(parse("a", "title: t\n", Format::Sniff).is_ok());
        assert!(parse("a", "{\"title\": 1}", Format::Sniff).is_ok());
    }

    #[test]
    fn missing_file_is_named() {
        let err = load("/definitely/not/here.json", true, &AsyncRuntime::new())
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("/definitely/not/here.json: path does not exist")
        );
    }
}
