//! A Markdown summary, for a CI step summary (GitHub's `$GITHUB_STEP_SUMMARY`) or a
//! terminal: status, deviated, and each probe's value against its tolerance.
//!
//! Every text from a journal goes through [`escape`]: GitHub renders inline HTML and
//! Markdown, so a title must not become a link, a table column or a tag.

use crate::model::{ActivityRun, Journal, Phase, Verdict};
use crate::text::{SHORT, expected, got, outcome, seconds};
use std::fmt::Write;

/// The summary of `journals` (label, journal): one section each, after an overview
/// table when there are several.
pub fn render(journals: &[(&str, &Journal)]) -> String {
    render_with_users(journals, None)
}

/// As [`render`], with a table of the users' requests before and after the method under
/// each journal (`users`: the lab's series file).
pub fn render_with_users(journals: &[(&str, &Journal)], users: Option<&crate::Traffic>) -> String {
    let mut out = String::new();
    if journals.len() > 1 {
        out.push_str("# Chaos experiments\n\n| journal | experiment | verdict | status | deviated |\n| --- | --- | --- | --- | --- |\n");
        for (label, j) in journals {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(label),
                escape(&j.title),
                verdict(j),
                escape(j.status.as_str()),
                yes_no(j.deviated)
            );
        }
        out.push('\n');
    }
    for (label, j) in journals {
        section(&mut out, label, j);
        if let Some(traffic) = users {
            users_table(&mut out, j, traffic);
        }
    }
    out
}

fn users_table(out: &mut String, j: &Journal, traffic: &crate::Traffic) {
    let Some(crate::traffic::Windows { rows, .. }) = traffic.windows(j) else {
        return;
    };
    out.push_str("**The users**\n\n| users' requests | ok | degraded (fallback) | failed | timed out | p50 | worst p99 |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    for (label, t) in rows {
        let all = t.finished();
        let share = |n: u64| {
            if all == 0 {
                "-".to_string()
            } else {
                format!("{n} ({:.0} %)", 100.0 * n as f64 / all as f64)
            }
        };
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0} ms"));
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} |",
            share(t.ok),
            share(t.degraded),
            share(t.failed),
            share(t.timed_out),
            ms(t.p50_ms),
            ms(t.worst_p99_ms)
        );
    }
    out.push('\n');
}

/// The summary of one journal.
pub fn summary(journal: &Journal) -> String {
    let mut out = String::new();
    section(&mut out, "", journal);
    out
}

fn verdict(j: &Journal) -> &'static str {
    match j.verdict() {
        Verdict::Passed => "✅ passed",
        Verdict::Deviated => "❌ deviated",
        Verdict::NotMetBefore => "❌ not met before the method",
        Verdict::NotCompleted => "⚠️ not completed",
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn mark(run: &ActivityRun) -> String {
    let word = outcome(run);
    if run.failed() {
        format!("❌ **{word}**")
    } else {
        format!("✅ {word}")
    }
}

fn section(out: &mut String, label: &str, j: &Journal) {
    let _ = writeln!(out, "## {} — {}\n", verdict(j), escape(&j.title));
    let _ = write!(
        out,
        "**Status:** {} · **Deviated:** {} · **Duration:** {}",
        escape(j.status.as_str()),
        yes_no(j.deviated),
        seconds(j.duration)
    );
    if !label.is_empty() {
        let _ = write!(out, " · **Journal:** {}", escape(label));
    }
    out.push_str("\n\n");

    let hypotheses = j.hypotheses();
    if hypotheses.is_empty() {
        out.push_str("No steady-state hypothesis ran.\n\n");
    } else {
        out.push_str("| phase | probe | tolerance (expected) | value (got) | result |\n| --- | --- | --- | --- | --- |\n");
        for (phase, h) in hypotheses
            .iter()
            .filter(|(p, _)| !matches!(p, Phase::During(_)))
        {
            for p in &h.probes {
                row(out, phase.key(), p);
            }
        }
        during_rows(out, j);
        out.push('\n');
    }
    if let Some((phase, p)) = j.failing_probe() {
        let _ = writeln!(
            out,
            "**Failing probe:** {} ({}): expected {}, got {}\n",
            escape(&p.name),
            phase.label(),
            escape(&expected(p)),
            escape(&got(p, SHORT))
        );
    }
    for (name, runs) in [("Method", &j.method), ("Rollbacks", &j.rollbacks)] {
        if runs.is_empty() {
            continue;
        }
        let items: Vec<String> = runs
            .iter()
            .map(|r| format!("{} {}", escape(&r.name), mark(r)))
            .collect();
        let _ = writeln!(out, "**{name}:** {}\n", items.join(" · "));
    }
}

fn row(out: &mut String, phase: &str, p: &ActivityRun) {
    let _ = writeln!(
        out,
        "| {phase} | {} | {} | {} | {} |",
        escape(&p.name),
        escape(&expected(p)),
        escape(&got(p, SHORT)),
        mark(p)
    );
}

/// The continuous hypothesis can run hundreds of times: one row per probe, saying in
/// how many runs it held, with the first value outside its tolerance (else the last).
fn during_rows(out: &mut String, j: &Journal) {
    let mut names: Vec<&str> = Vec::new();
    for h in &j.during {
        for p in &h.probes {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
    for name in names {
        let runs: Vec<&ActivityRun> = j
            .during
            .iter()
            .flat_map(|h| &h.probes)
            .filter(|p| p.name == name)
            .collect();
        let failed = runs.iter().filter(|p| p.failed()).count();
        let shown = runs.iter().find(|p| p.failed()).or(runs.last()).copied();
        let Some(shown) = shown else { continue };
        let result = if failed == 0 {
            format!("✅ met in all {} runs", runs.len())
        } else {
            format!("❌ **not met in {failed} of {} runs**", runs.len())
        };
        let _ = writeln!(
            out,
            "| during | {} | {} | {} | {result} |",
            escape(name),
            escape(&expected(shown)),
            escape(&got(shown, SHORT)),
        );
    }
}

/// Text that Markdown (and the HTML it allows) shows as it is, on one line: HTML's
/// three special characters as entities, Markdown's inline ones backslash-escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_are_shown_as_text() {
        assert_eq!(
            escape("<script>a|b</script> [x](y) *z*\n"),
            "&lt;script&gt;a\\|b&lt;/script&gt; \\[x\\]\\(y\\) \\*z\\* "
        );
    }
}
