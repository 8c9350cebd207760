//! Text shared by the renderers: values as a person reads them, cut to a sensible
//! length, and characters XML cannot carry.

use crate::model::{ActivityRun, Output, RunStatus, plain};
use serde_json::Value;
use std::borrow::Cow;

/// How much of an output a table cell shows.
pub const SHORT: usize = 160;
/// How much of an output a failure's details show (journals keep up to 10 MiB).
pub const LONG: usize = 4000;

/// `text` cut to `max` characters, saying how many were left out.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => {
            let left = text[cut..].chars().count();
            Cow::Owned(format!("{}… ({left} more characters)", &text[..cut]))
        }
    }
}

/// `text` in lines of at most `width` characters, broken at spaces where it can (a word
/// longer than a line is split): all of it, for a label that must not be cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let room = if line.is_empty() {
                width
            } else {
                width.saturating_sub(line.chars().count() + 1)
            };
            let len = word.chars().count();
            if len <= room {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a whole line: up to its last hyphen that fits (kept on
            // this line), else its first `width` characters.
            let hard = word
                .char_indices()
                .nth(width)
                .map_or(word.len(), |(i, _)| i);
            let cut = word[..hard]
                .rfind('-')
                .map(|i| i + 1)
                .filter(|&i| i < hard)
                .unwrap_or(hard);
            lines.push(word[..cut].to_string());
            word = word[cut..].to_string();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A value as JSON on one line (a tolerance as written: `200`, `"hello"`, `{...}`).
pub fn compact(value: &Value) -> String {
    value.to_string()
}

/// What was expected of a probe: its tolerance as written.
pub fn expected(run: &ActivityRun) -> String {
    run.tolerance
        .as_ref()
        .map(compact)
        .unwrap_or_else(|| "(no tolerance)".into())
}

/// What came back, on one line: an HTTP status and body, a process's exit status and
/// streams, a value; or the error when the activity failed to run.
pub fn got(run: &ActivityRun, max: usize) -> String {
    let text = match &run.output {
        Output::Http { status, body, .. } => {
            let body = one_line(&plain(body));
            if body.is_empty() {
                format!("HTTP {}", plain(status))
            } else {
                format!("HTTP {}: {body}", plain(status))
            }
        }
        Output::Process {
            status,
            stdout,
            stderr,
        } => {
            let mut parts = vec![format!("exit {}", plain(status))];
            for (name, stream) in [("stdout", stdout), ("stderr", stderr)] {
                let stream = one_line(stream.trim_end());
                if !stream.is_empty() {
                    parts.push(format!("{name}: {stream}"));
                }
            }
            parts.join("; ")
        }
        Output::Value(v) => compact(v),
        Output::None => match (run.error_message(), &run.status) {
            (Some(e), _) => format!("error: {}", one_line(e)),
            (None, None) => "no result (interrupted while it ran)".into(),
            (None, _) => "no output".into(),
        },
    };
    truncate(&text, max).into_owned()
}

/// A run's outcome in words (never colour alone).
pub fn outcome(run: &ActivityRun) -> &'static str {
    match (&run.status, run.tolerance_met) {
        (None, _) => "interrupted",
        (Some(RunStatus::Succeeded), Some(false)) => "not met",
        (Some(RunStatus::Succeeded), Some(true)) => "met",
        (Some(RunStatus::Succeeded), None) => "succeeded",
        (Some(RunStatus::Failed), _) => "failed",
        (Some(RunStatus::Other(_)), _) => "unknown",
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Seconds as a person reads them.
pub fn seconds(d: Option<f64>) -> String {
    match d {
        Some(d) if d < 1.0 => format!("{:.0} ms", d * 1000.0),
        Some(d) => format!("{d:.2} s"),
        None => "?".into(),
    }
}

/// XML 1.0 allows no control characters but tab, newline and carriage return, even
/// escaped (a process may print ANSI colours): each becomes U+FFFD.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo wörld", 5), "héllo… (6 more characters)");
    }

    #[test]
    fn wrap_keeps_every_character_in_lines_of_the_width() {
        let label = "✓ during: consumer-answers-within-2s-under-a-very-long-name and more";
        let lines = wrap(label, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        // Broken at spaces; an overlong word split without a character lost.
        assert_eq!(lines.concat().replace(' ', ""), label.replace(' ', ""));
        assert_eq!(lines[0], "✓ during:");
        // A long hyphenated word breaks after a hyphen.
        assert_eq!(lines[1], "consumer-answers-");
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("short", 20), ["short"]);
        assert_eq!(wrap("", 20), [""]);
    }

    #[test]
    fn control_characters_are_replaced_for_xml() {
        assert_eq!(xml_safe("a\u{1b}[31mb\n"), "a\u{FFFD}[31mb\n");
        assert!(matches!(xml_safe("plain"), Cow::Borrowed(_)));
    }
}
