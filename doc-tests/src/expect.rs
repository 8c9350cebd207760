//! Does a command's output match what the page shows? The rules (also written for
//! authors in docs/tutorial/README.md):
//!
//! - trailing spaces and trailing empty lines are ignored on both sides;
//! - date-times (`2026-11-26 17:11:56`, `2026-11-26T17:12:11.7+00:00`) match any date-time,
//!   so pages can show real captured log lines;
//! - a line that is exactly `...` stands for any number of lines (also none);
//! - `[..]` inside a line stands for any text within that line.
//!
//! Everything else must be equal.

use std::sync::LazyLock;

use regex::Regex;

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
        .expect("the date-time pattern is valid")
});

const ANY_LINES: &str = "...";
const ANY_TEXT: &str = "[..]";

/// The text as compared: date-times replaced, trailing whitespace and blank lines cut.
pub fn normalize(text: &str) -> Vec<String> {
    let replaced = DATE_TIME.replace_all(text, "<date-time>");
    let mut lines: Vec<String> = replaced
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Whether `actual` matches the page's `expected` under the rules above.
pub fn matches(expected: &str, actual: &str) -> bool {
    let expected = normalize(expected);
    let actual = normalize(actual);
    lines_match(&expected, &actual)
}

/// Whether `excerpt` (with the same elisions) appears as consecutive lines of `source`.
pub fn contains_excerpt(source: &str, excerpt: &str) -> bool {
    let mut expected = vec![ANY_LINES.to_string()];
    expected.extend(normalize(excerpt));
    expected.push(ANY_LINES.to_string());
    lines_match(&expected, &normalize(source))
}

/// Line sequences with `...` elisions. `reach[j]`: the expected lines so far can match
/// exactly the first `j` actual lines (a dynamic programme, so no backtracking blow-up).
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    let mut reach = vec![false; actual.len() + 1];
    reach[0] = true;
    for pattern in expected {
        let mut next = vec![false; actual.len() + 1];
        if pattern == ANY_LINES {
            let mut seen = false;
            for j in 0..=actual.len() {
                seen |= reach[j];
                next[j] = seen;
            }
        } else {
            for j in 0..actual.len() {
                if reach[j] && line_matches(pattern, &actual[j]) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
    }
    reach[actual.len()]
}

/// One line with `[..]` elisions: the literal parts must appear in order, the first at
/// the start and the last at the end.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split(ANY_TEXT).collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_matches_and_different_text_does_not() {
        assert!(matches("a\nb\n", "a  \nb\n\n"));
        assert!(!matches("a\nb\n", "a\nc\n"));
        assert!(!matches("a\n", "a\nb\n"));
        assert!(!matches("a\nb\n", "a\n"));
        assert!(matches("", "\n"));
        assert!(!matches("", "x\n"));
    }

    #[test]
    fn three_dots_stand_for_any_number_of_lines() {
        assert!(matches("a\n...\nz\n", "a\nz\n"));
        assert!(matches("a\n...\nz\n", "a\nb\nc\nz\n"));
        assert!(matches("...\nz\n", "x\ny\nz\n"));
        assert!(matches("a\n...\n", "a\nb\n"));
        assert!(matches("...\n", ""));
        assert!(!matches("a\n...\nz\n", "a\nb\n"));
        assert!(matches("...\nb\n...\nb\n", "b\nx\nb\nb\n"));
        assert!(!matches("...\nb\n...\nb\n...\nb\n", "b\nb\n"));
    }

    #[test]
    fn bracket_dots_stand_for_text_within_one_line() {
        assert!(matches("pid [..] on [..]\n", "pid 42 on 127.0.0.1:8080\n"));
        assert!(matches("[..]\n", "anything\n"));
        assert!(matches("a[..]\n", "a\n"));
        assert!(!matches("a[..]b\n", "ab-c\n"));
        assert!(!matches("ab[..]ba\n", "aba\n"));
        assert!(!matches("[..]\n", "one\ntwo\n"));
        assert!(matches("x [..] y [..] z\n", "x 1 y 2 y 3 z\n"));
    }

    #[test]
    fn date_times_match_any_date_time() {
        assert!(matches(
            "[2026-11-26 17:11:56 INFO] Probe: x\n",
            "[2027-01-02 03:04:05 INFO] Probe: x\n"
        ));
        assert!(matches(
            "\"start\": \"2026-11-26T17:12:11.700923+00:00\"\n",
            "\"start\": \"2020-01-01T00:00:00.1+00:00\"\n"
        ));
        assert!(!matches(
            "[2026-11-26 17:11:56 INFO] Probe: x\n",
            "[2026-11-26 17:11:56 ERROR] Probe: x\n"
        ));
    }

    #[test]
    fn excerpts_must_be_consecutive_lines_of_the_source() {
        let source = "fn a() {\n    one();\n    two();\n}\n";
        assert!(contains_excerpt(source, "    one();\n    two();\n"));
        assert!(contains_excerpt(source, "fn a() {\n...\n}\n"));
        assert!(!contains_excerpt(source, "    two();\n    one();\n"));
        assert!(!contains_excerpt(source, "    three();\n"));
    }
}
