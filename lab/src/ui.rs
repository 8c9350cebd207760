//! Human output: short lines, colour and spinners only when a terminal is watching.

use std::time::Duration;

use console::{Style, Term};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress line for the user, on stderr (stdout stays for answers such as a URL).
pub fn info(message: impl AsRef<str>) {
    let prefix = Style::new().cyan().for_stderr().apply_to("lab:");
    eprintln!("{prefix} {}", message.as_ref());
}

/// A warning on stderr.
pub fn warn(message: impl AsRef<str>) {
    let prefix = Style::new()
        .yellow()
        .bold()
        .for_stderr()
        .apply_to("lab: warning:");
    eprintln!("{prefix} {}", message.as_ref());
}

/// A spinner on stderr while something is awaited; `None` when stderr is not a terminal
/// (logs and CI get the plain lines instead).
pub fn spinner(message: String) -> Option<ProgressBar> {
    if !Term::stderr().is_term() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(80));
    Some(bar)
}

/// Styles for stdout (the demo's narration and tables).
pub fn bold(text: impl std::fmt::Display) -> String {
    Style::new().bold().apply_to(text).to_string()
}

pub fn heading(text: impl std::fmt::Display) -> String {
    Style::new().bold().cyan().apply_to(text).to_string()
}

pub fn good(text: impl std::fmt::Display) -> String {
    Style::new().green().bold().apply_to(text).to_string()
}

pub fn bad(text: impl std::fmt::Display) -> String {
    Style::new().red().bold().apply_to(text).to_string()
}

pub fn dim(text: impl std::fmt::Display) -> String {
    Style::new().dim().apply_to(text).to_string()
}
