//! Log output in the reference's shape: `[2026-01-05 19:50:31 INFO] Probe: name`.
//!
//! The console gets INFO and up (DEBUG with `--verbose`), coloured only on a TTY;
//! `--log-file` gets everything with the module and line. Secret values added to the
//! [`SecretMask`] that [`init`] returns (the run adds its secrets) are replaced by `***`
//! in every line.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, filter::LevelFilter};

/// Logs at the reference's CRITICAL level (`logger.fatal`).
#[macro_export]
macro_rules! critical {
    ($($arg:tt)*) => { ::tracing::error!(critical = true, $($arg)*) };
}

/// The secret values to mask in log lines: held by the installed formatters, filled
/// by the run once it has loaded its secrets. Clones share the same values.
#[derive(Debug, Clone, Default)]
pub struct SecretMask(Arc<RwLock<Vec<String>>>);

impl SecretMask {
    /// Adds values that must never appear in log output (shorter than 3: ignored).
    pub fn add(&self, values: Vec<String>) {
        let mut guard = self.0.write().unwrap_or_else(|p| p.into_inner());
        guard.extend(values.into_iter().filter(|v| v.len() >= 3));
        // Longest first, so a secret containing another is masked whole.
        guard.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `msg` with every secret value replaced by `***`.
    pub fn apply(&self, mut msg: String) -> String {
        let guard = self.0.read().unwrap_or_else(|p| p.into_inner());
        for s in guard.iter() {
            if msg.contains(s.as_str()) {
                msg = msg.replace(s.as_str(), "***");
            }
        }
        msg
    }
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    String,
    Json,
}

/// Console and file logging options.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub verbose: bool,
    pub format: LogFormat,
    pub file: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Fields {
    message: String,
    critical: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "critical" {
            self.critical = value;
        }
    }
}

/// One log line formatter: string (optionally coloured, optionally with location) or JSON.
struct LineFormat {
    color: bool,
    location: bool,
    json: bool,
    mask: SecretMask,
}

fn level_name(level: &Level, critical: bool) -> &'static str {
    match *level {
        Level::ERROR if critical => "CRITICAL",
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

fn level_color(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        _ => "\x1b[36m",
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let level = level_name(meta.level(), fields.critical);
        let now = chrono::Local::now();
        let asctime = now.format("%Y-%m-%d %H:%M:%S").to_string();
        let message = self.mask.apply(fields.message);
        let module = meta
            .module_path()
            .unwrap_or("")
            .rsplit("::")
            .next()
            .unwrap_or("");
        let line = meta.line().unwrap_or(0);
        if self.json {
            let record = serde_json::json!({
                "process": std::process::id(),
                "asctime": asctime,
                "levelname": level,
                "module": module,
                "lineno": line,
                "message": message,
                "timestamp": now.with_timezone(&chrono::Utc).to_rfc3339(),
            });
            return writeln!(w, "{record}");
        }
        let (start, end) = if self.color {
            (level_color(meta.level()), "\x1b[39m")
        } else {
            ("", "")
        };
        let message = message.replace('\n', "\n    ");
        if self.location {
            writeln!(
                w,
                "{start}[{asctime} {level}] [{module}:{line}]{end} {message}"
            )
        } else {
            writeln!(w, "{start}[{asctime} {level}]{end} {message}")
        }
    }
}

/// A cloneable writer over a shared file.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<std::fs::File>>);

impl std::io::Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = SharedFile;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the global logger and returns the mask its lines go through. Errors only
/// when the log file can't be opened.
pub fn init(options: &LogOptions) -> Result<SecretMask, String> {
    let mask = SecretMask::default();
    let console_level = if options.verbose {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .event_format(LineFormat {
            color: std::io::stderr().is_terminal() && options.format == LogFormat::String,
            location: options.verbose,
            json: options.format == LogFormat::Json,
            mask: mask.clone(),
        })
        .with_filter(console_level);
    let file_layer = match &options.file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--log-file {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(SharedFile(Arc::new(Mutex::new(file))))
                    .event_format(LineFormat {
                        color: false,
                        location: true,
                        json: false,
                        mask: mask.clone(),
                    })
                    .with_filter(LevelFilter::DEBUG),
            )
        }
        None => None,
    };
    let subscriber = tracing_subscriber::registry()
        .with(console)
        .with(file_layer)
        // Only our own events: dependencies (reqwest, hyper...) stay quiet.
        .with(tracing_subscriber::filter::filter_fn(|m| {
            m.target().starts_with("chaos_runner") || m.target().starts_with("chaosk8s")
        }));
    // A second init (tests calling the CLI twice in one process) keeps the first logger.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let mask = SecretMask::default();
        mask.clone().add(vec!["hunter2-secret".into(), "ab".into()]);
        assert_eq!(mask.apply("token=hunter2-secret ab".into()), "token=*** ab");
    }
}
