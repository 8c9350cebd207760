//! The before/after table that closes the demo, and the verdict on the story.

use tabled::builder::Builder;
use tabled::settings::Style;

use journal_report::model::{Output, Status};

use super::journal::{self, ActivityRun, Journal};
use super::scenario::{Expect, Story, calls_per_request};
use crate::traffic::Summary;
use crate::traffic::command::{breakdown, millis};

/// One experiment run as the summary needs it.
#[derive(Debug)]
pub struct RunFacts {
    pub exit_code: Option<i32>,
    pub journal: Journal,
    /// What the users' requests got from the fault to its rollback or the end of the run
    /// (`None` when the journal has no fault with an end time).
    pub users: Option<Summary>,
    /// The provider's failed calls during the run, from its metrics (stories that count
    /// them: the retry storm).
    pub provider_calls: Option<u64>,
    /// Users' requests due from the fault to its rollback (what `provider_calls` is
    /// compared with).
    pub requests_during_fault: Option<u64>,
}

/// The users' view in plain words, since `since` ("the provider was killed").
pub fn users_sentence(users: Option<&Summary>, since: &str) -> String {
    let Some(users) = users else {
        return format!("The journal does not say when {since}, so there is no users' view.");
    };
    let failed = users.failed + users.timed_out;
    if users.sent == 0 {
        return format!("No user request was due between when {since} and the end of the run.");
    }
    if failed == 0 {
        let answered = match (users.ok, users.degraded) {
            (0, n) if n == users.sent => format!("all {n} were answered with the fallback"),
            (n, 0) if n == users.sent => format!("all {n} were answered normally"),
            (ok, degraded) => {
                format!("{ok} were answered normally and {degraded} with the fallback")
            }
        };
        return format!(
            "After {since}, none of the {} user requests failed: {answered}.",
            users.sent
        );
    }
    let mut causes = users.failure_causes.clone();
    if users.timed_out > 0 {
        causes.insert("timed out".into(), users.timed_out);
    }
    let how_many = if failed == users.sent {
        format!("all {failed}")
    } else {
        format!("{failed} of {}", users.sent)
    };
    format!(
        "After {since}, {how_many} user requests failed ({}).",
        breakdown(&causes)
    )
}

fn users_cell(r: &RunFacts, cell: fn(&Summary) -> String) -> String {
    r.users.as_ref().map_or_else(|| "-".into(), cell)
}

fn with_breakdown(n: u64, counts: &std::collections::BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        n.to_string()
    } else {
        format!("{n} ({})", breakdown(counts))
    }
}

pub const HEALTH_PROBE: &str = "all-services-are-healthy";
pub use crate::experiment_file::CONSUMER_PROBE;
pub const KILL_ACTION: &str = "stop-provider-service";

/// "met" / "NOT met" plus what the probe saw (status and latency for http, exit code
/// for process probes).
fn describe_probe(run: Option<&ActivityRun>, http: bool) -> String {
    let Some(run) = run else {
        return "not run".into();
    };
    let verdict = match run.tolerance_met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "no verdict",
    };
    if let Some(error) = journal::error(run) {
        let last = error.lines().last().unwrap_or(&error);
        return format!("{verdict} (failed: {last})");
    }
    match (http, run.output.status_code()) {
        (true, Some(code)) => {
            let fallback = if run.output.header("X-Fallback").is_some_and(|v| v == "true") {
                ", fallback"
            } else {
                ""
            };
            format!(
                "{verdict} (HTTP {code}, {}{fallback})",
                latency(run.duration.unwrap_or(0.0))
            )
        }
        (false, Some(code)) => format!("{verdict} (exit {code})"),
        _ => verdict.into(),
    }
}

fn latency(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.1} s")
    }
}

fn describe_action(journal: &Journal, action: &str) -> String {
    match journal.method.iter().find(|run| run.name == action) {
        Some(run) => match (&run.output, run.output.status_code()) {
            (Output::Http { .. }, Some(code)) => format!("{} (HTTP {code})", journal::status(run)),
            (_, Some(code)) => format!("{} (exit {code})", journal::status(run)),
            (_, None) => journal::status(run).to_string(),
        },
        None => "not run".into(),
    }
}

fn describe_outcome(journal: &Journal) -> String {
    if journal.deviated {
        format!("{}, deviated", journal.status.as_str())
    } else {
        journal.status.as_str().to_string()
    }
}

fn describe_exit(code: Option<i32>) -> String {
    code.map_or_else(|| "killed by a signal".into(), |c| c.to_string())
}

/// The table: one row per probe and phase, the method, the users' view from the fault
/// to the end of the run, the outcome and the exit status.
pub fn table(story: &Story, before: &RunFacts, after: &RunFacts) -> String {
    let mut builder = Builder::new();
    builder.push_record(["", "before the fix", "after the fix"]);
    let mut row = |label: String, describe: &dyn Fn(&RunFacts) -> String| {
        builder.push_record([label, describe(before), describe(after)]);
    };
    let probes = |phase_after: bool| {
        story.probes.iter().map(move |probe| {
            let phase = if phase_after { "after" } else { "before" };
            (format!("{} ({phase})", probe.name), probe, phase_after)
        })
    };
    for (label, probe, phase_after) in probes(false) {
        row(label, &|r| {
            describe_probe(
                journal::probe(&r.journal, probe.name, phase_after),
                probe.http,
            )
        });
    }
    row(format!("method: {}", story.fault_action), &|r| {
        describe_action(&r.journal, story.fault_action)
    });
    for (label, probe, phase_after) in probes(true) {
        row(label, &|r| {
            describe_probe(
                journal::probe(&r.journal, probe.name, phase_after),
                probe.http,
            )
        });
    }
    row(format!("users after {}: sent", story.fault_noun), &|r| {
        users_cell(r, |u| u.sent.to_string())
    });
    row("users: ok".into(), &|r| users_cell(r, |u| u.ok.to_string()));
    row("users: degraded (fallback)".into(), &|r| {
        users_cell(r, |u| with_breakdown(u.degraded, &u.degraded_reasons))
    });
    row("users: failed".into(), &|r| {
        users_cell(r, |u| with_breakdown(u.failed, &u.failure_causes))
    });
    row("users: timed out".into(), &|r| {
        users_cell(r, |u| u.timed_out.to_string())
    });
    row("users: latency p50 / p99".into(), &|r| {
        users_cell(r, |u| {
            format!("{} / {}", millis(u.p50_ms), millis(u.p99_ms))
        })
    });
    if story.provider_calls {
        row(
            "provider: failed calls (per user request in the fault)".into(),
            &|r| match (r.provider_calls, calls_per_request(r)) {
                (Some(calls), Some(per)) => format!("{calls} ({per:.2})"),
                (Some(calls), None) => calls.to_string(),
                _ => "-".into(),
            },
        );
    }
    row("experiment status".into(), &|r| {
        describe_outcome(&r.journal)
    });
    row("runner exit status".into(), &|r| describe_exit(r.exit_code));
    let mut table = builder.build();
    table.with(Style::rounded());
    table.to_string()
}

/// `Ok` when the story went as it says: each run's experiment ended as expected (a
/// deviated run exits 1, a run whose hypothesis held completes and exits 0) and the
/// story's own check of the figures passed; otherwise what went differently.
pub fn verdict(story: &Story, before: &RunFacts, after: &RunFacts) -> Result<(), String> {
    let mut problems = Vec::new();
    for (label, run, expect) in [
        ("before the fix", before, story.expect_before),
        ("after the fix", after, story.expect_after),
    ] {
        let as_expected = match expect {
            Expect::Deviates => run.exit_code == Some(1) && run.journal.deviated,
            Expect::Holds => {
                run.exit_code == Some(0)
                    && run.journal.status == Status::Completed
                    && !run.journal.deviated
            }
        };
        if !as_expected {
            let should = match expect {
                Expect::Deviates => "deviate and exit 1",
                Expect::Holds => "complete without deviating and exit 0",
            };
            problems.push(format!(
                "the run {label} should {should}, but it ended {} with exit status {}",
                describe_outcome(&run.journal),
                describe_exit(run.exit_code)
            ));
        }
    }
    if problems.is_empty()
        && let Some(check) = story.figures_check
        && let Err(problem) = check(before, after)
    {
        problems.push(problem);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::scenario::Scenario;
    use serde_json::{Value, json};

    const KILLED: &str = "the provider was killed";

    fn probe(name: &str, status: i64, met: bool, headers: Value) -> Value {
        json!({"activity": {"name": name}, "status": "succeeded", "duration": 0.0123,
               "tolerance_met": met, "output": {"status": status, "headers": headers, "body": ""}})
    }

    fn run(deviated: bool, after_status: i64, exit: i32, headers: Value) -> RunFacts {
        let journal = json!({
            "experiment": {},
            "status": if deviated { "failed" } else { "completed" },
            "deviated": deviated,
            "steady_states": {
                "before": {"probes": [probe(HEALTH_PROBE, 0, true, json!({})),
                                      probe(CONSUMER_PROBE, 200, true, json!({}))]},
                "after": {"probes": [probe(HEALTH_PROBE, 0, true, json!({})),
                                     probe(CONSUMER_PROBE, after_status, !deviated, headers)]}
            },
            "run": [{"activity": {"name": KILL_ACTION}, "status": "succeeded",
                     "output": {"status": 0, "stdout": "", "stderr": ""}}]
        });
        RunFacts {
            exit_code: Some(exit),
            journal: Journal::from_value(journal).unwrap(),
            users: None,
            provider_calls: None,
            requests_during_fault: None,
        }
    }

    fn users(sent: u64, ok: u64, degraded: u64, failed: u64, timed_out: u64) -> Summary {
        let mut summary = crate::traffic::Series::new(std::time::Duration::from_secs(1)).totals();
        (
            summary.sent,
            summary.ok,
            summary.degraded,
            summary.failed,
            summary.timed_out,
        ) = (sent, ok, degraded, failed, timed_out);
        if failed > 0 {
            summary.failure_causes.insert("HTTP 500".into(), failed);
        }
        if degraded > 0 {
            summary
                .degraded_reasons
                .insert("circuit-open".into(), degraded);
        }
        summary.p50_ms = Some(3.0);
        summary.p99_ms = Some(12.5);
        summary
    }

    #[test]
    fn the_users_view_is_said_in_plain_words_and_tabled() {
        assert_eq!(
            users_sentence(Some(&users(100, 3, 0, 97, 0)), KILLED),
            "After the provider was killed, 97 of 100 user requests failed (HTTP 500 97)."
        );
        assert_eq!(
            users_sentence(Some(&users(100, 0, 100, 0, 0)), KILLED),
            "After the provider was killed, none of the 100 user requests failed: all 100 were answered with the fallback."
        );
        assert_eq!(
            users_sentence(Some(&users(10, 0, 0, 0, 10)), KILLED),
            "After the provider was killed, all 10 user requests failed (timed out 10)."
        );
        assert!(users_sentence(None, KILLED).contains("no users' view"));
        let mut before = run(true, 500, 1, json!({}));
        before.users = Some(users(100, 3, 0, 97, 0));
        let mut after = run(false, 200, 0, json!({}));
        after.users = Some(users(100, 0, 100, 0, 0));
        let text = table(Scenario::Kill.story(), &before, &after);
        for needle in [
            "users after the kill: sent",
            "97 (HTTP 500 97)",
            "100 (circuit-open 100)",
            "3.0 ms / 12.5 ms",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }

    #[test]
    fn the_table_shows_probe_results_status_codes_latency_and_exit_status() {
        let before = run(true, 500, 1, json!({}));
        let after = run(
            false,
            200,
            0,
            json!({"x-fallback": "true", "x-fallback-reason": "connect-error"}),
        );
        let text = table(Scenario::Kill.story(), &before, &after);
        for needle in [
            "NOT met (HTTP 500, 12 ms)",
            "met (HTTP 200, 12 ms, fallback)",
            "met (exit 0)",
            "succeeded (exit 0)",
            "failed, deviated",
            "completed",
            "runner exit status",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        let (mut before, mut after) = (before, after);
        before.users = Some(users(100, 3, 0, 97, 0));
        after.users = Some(users(100, 0, 100, 0, 0));
        assert_eq!(verdict(Scenario::Kill.story(), &before, &after), Ok(()));
        // The figures count too: users failing after the fix are not the story.
        after.users = Some(users(100, 0, 90, 10, 0));
        let reason = verdict(Scenario::Kill.story(), &before, &after).unwrap_err();
        assert!(reason.contains("10 of 100"), "{reason}");
    }

    #[test]
    fn an_unexpected_outcome_is_explained() {
        let before = run(false, 200, 0, json!({}));
        let after = run(true, 500, 1, json!({}));
        let reason = verdict(Scenario::Kill.story(), &before, &after).unwrap_err();
        assert!(
            reason.contains("the run before the fix should deviate"),
            "{reason}"
        );
        assert!(
            reason.contains("the run after the fix should complete"),
            "{reason}"
        );
    }
}
