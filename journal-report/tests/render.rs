//! The renderers on real journals (tests/fixtures/README.md says where each comes from):
//! what a reader must find in the HTML report, the Markdown summary and the JUnit XML.

use journal_report::model::{Phase, Status, Verdict};
use journal_report::{Journal, html, junit, markdown};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Journal {
    Journal::read(&fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every `http://` or `https://` in `html` that is not the text of the journals: in a
/// `src`, `href`, `url(...)` or `@import`, it would be fetched (or followed) from the
/// network.
fn external_references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for pattern in ["src=", "href=", "url(", "@import", "<link", "<script"] {
        for (i, _) in html.match_indices(pattern) {
            let rest = &html[i..html.len().min(i + 80)];
            let value = rest.split(['>', ')']).next().unwrap_or("");
            if pattern == "<link" || pattern == "<script" || value.contains("//") {
                found.push(value.to_string());
            }
        }
    }
    found
}

#[test]
fn both_runners_journals_are_read_alike() {
    let ours = read("chaos-runner-deviated.json");
    let python = read("python-chaos-1.19-deviated.json");
    for j in [&ours, &python] {
        assert_eq!(
            j.title,
            "The provider's status survives losing its status file"
        );
        assert_eq!(j.status, Status::Completed);
        assert!(j.deviated);
        assert_eq!(j.verdict(), Verdict::Deviated);
        let (phase, probe) = j.failing_probe().expect("a failing probe");
        assert_eq!(phase, Phase::After);
        assert_eq!(probe.name, "status-answers-200");
        assert_eq!(journal_report::text::expected(probe), "200");
        assert!(
            journal_report::text::got(probe, 40).starts_with("HTTP 404: <!DOCTYPE HTML>"),
            "{}",
            journal_report::text::got(probe, 40)
        );
        assert_eq!(j.method.len(), 1);
        assert_eq!(j.rollbacks.len(), 1);
        assert_eq!(j.before.as_ref().map(|h| h.probes.len()), Some(3));
    }
    let error = read("python-chaos-1.19-probe-error.json");
    assert_eq!(error.status, Status::Failed);
    let (phase, probe) = error.failing_probe().expect("failing");
    assert_eq!(
        (phase, probe.name.as_str()),
        (Phase::Before, "nothing-listens-there")
    );
    assert!(
        probe
            .error_message()
            .is_some_and(|m| m.starts_with("chaoslib.exceptions.ActivityFailed: failed to connect")),
        "{:?}",
        probe.error_message()
    );
}

#[test]
fn an_unreadable_journal_names_the_file_the_position_and_the_field() {
    let e = Journal::read(&fixture("broken-wrong-type.json")).expect_err("wrong type");
    let shown = e.to_string();
    assert!(
        shown.contains("broken-wrong-type.json: line 110 column "),
        "{shown}"
    );
    assert!(
        shown.contains("field `steady_states.before.probes[0].status`"),
        "{shown}"
    );
    let e = Journal::read(&fixture("broken-truncated.json")).expect_err("truncated");
    assert!(
        e.to_string().contains("broken-truncated.json: line "),
        "{e}"
    );
    let e = Journal::read(&fixture("no-such-journal.json")).expect_err("missing");
    assert!(e.to_string().contains("no-such-journal.json: "), "{e}");
}

#[test]
fn html_report_of_one_completed_journal() {
    let j = read("chaos-runner-completed.json");
    let report = html::render(&[("completed.json", &j)]);
    assert!(report.starts_with("<!DOCTYPE html>"));
    assert!(report.contains("<h2>The provider&apos;s status survives a harmless copy</h2>"));
    assert!(report.contains("✓ passed"));
    assert!(report.contains("status: completed"));
    assert!(report.contains("deviated: no"));
    assert!(!report.contains("Failing probe"), "nothing failed");
    assert!(!report.contains("Side by side"), "one journal: no overview");
    // The timeline: a row per activity (3 probes before and after, 1 action, 1
    // rollback), labelled.
    assert_eq!(
        report.matches("class=\"bar ").count(),
        8,
        "one bar per activity"
    );
    assert_eq!(
        report.matches("<text x=\"0\"").count(),
        8,
        "one label per row"
    );
    assert!(report.contains("✓ method: copy-status-file"));
    assert!(report.contains("✓ rollbacks: remove-the-copy"));
    assert_eq!(external_references(&report), Vec::<String>::new());
}

#[test]
fn html_report_of_two_journals_side_by_side_marks_the_failing_probe() {
    let ok = read("chaos-runner-completed.json");
    let bad = read("python-chaos-1.19-deviated.json");
    let report = html::render(&[("before.json", &bad), ("after.json", &ok)]);
    // The overview, in the order given.
    let overview = &report[report.find("Side by side").expect("overview")..];
    let (b, a) = (
        overview.find("before.json").expect("before"),
        overview.find("after.json").expect("after"),
    );
    assert!(b < a);
    assert!(report.contains("✗ deviated") && report.contains("✓ passed"));
    assert_eq!(report.matches("<article class=\"journal ").count(), 2);
    // The failing probe, with what was expected and what came back.
    let failure = &report[report
        .find("<section class=\"failure\"")
        .expect("failure box")..];
    let failure = &failure[..failure.find("</section>").expect("end")];
    assert!(
        failure.contains("✗ Failing probe: status-answers-200 — steady state after the method"),
        "{failure}"
    );
    assert!(
        failure.contains("<pre class=\"expected\">200</pre>"),
        "{failure}"
    );
    assert!(
        failure.contains("<pre class=\"got\">HTTP 404: &lt;!DOCTYPE HTML&gt;"),
        "the body came back, escaped: {failure}"
    );
    assert!(report.contains("<tr class=\"bad failing\">"));
    assert!(report.contains("✗ not met</span> <strong>broke the hypothesis</strong>"));
    assert_eq!(external_references(&report), Vec::<String>::new());
}

#[test]
fn nothing_from_a_journal_becomes_markup() {
    let j = read("chaos-runner-hostile-title.json");
    let report = html::render(&[("<b>label</b>.json", &j)]);
    assert_eq!(report.matches("<script").count(), 0, "no script at all");
    assert!(!report.contains("<img"));
    assert!(!report.contains("<b>"));
    assert!(
        report.contains("&lt;/title&gt;&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"),
        "the title, escaped"
    );
    assert!(
        report.contains("&lt;script&gt;alert(2)&lt;/script&gt;]]&gt;"),
        "the output"
    );
    assert_eq!(external_references(&report), Vec::<String>::new());
    assert_eq!(
        j.verdict(),
        Verdict::NotMetBefore,
        "completed, but not met before"
    );
    assert!(report.contains("✗ not met before the method"));

    let md = markdown::summary(&j);
    assert!(!md.contains("<script") && !md.contains("<img"), "{md}");
    assert!(md.contains("&lt;script&gt;probe&lt;/script&gt;"), "{md}");

    let xml = junit::render(&j);
    assert!(!xml.contains("<script"), "{xml}");
    assert!(
        xml.contains("name=\"&lt;script&gt;probe&lt;/script&gt;\""),
        "{xml}"
    );
}

#[test]
fn markdown_summary_shows_each_probe_against_its_tolerance() {
    let j = read("chaos-runner-deviated.json");
    let md = markdown::summary(&j);
    assert!(
        md.starts_with("## ❌ deviated — The provider's status survives losing its status file\n"),
        "{md}"
    );
    assert!(
        md.contains("**Status:** completed · **Deviated:** yes"),
        "{md}"
    );
    assert!(
        md.contains(
            "| before | status-answers-200 | 200 | HTTP 200: {\"status\":\"UP\"} | ✅ met |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| after | status-answers-200 | 200 | HTTP 404: &lt;\\!DOCTYPE HTML&gt;"),
        "{md}"
    );
    assert!(md.contains("| ❌ **not met** |"), "{md}");
    assert!(
        md.contains("**Failing probe:** status-answers-200 (steady state after the method): expected 200, got HTTP 404"),
        "{md}"
    );
    assert!(
        md.contains("**Method:** remove-status-file ✅ succeeded"),
        "{md}"
    );
    assert!(
        md.contains("**Rollbacks:** restore-status-file ✅ succeeded"),
        "{md}"
    );

    let during = markdown::summary(&read("chaos-runner-during.json"));
    assert!(
        during.contains("| during | status-answers-200 | 200 | HTTP 200"),
        "{during}"
    );
    assert!(during.contains("✅ met in all 3 runs"), "{during}");

    let both = markdown::render(&[
        ("a.json", &j),
        ("b.json", &read("chaos-runner-completed.json")),
    ]);
    assert!(both.starts_with("# Chaos experiments\n"), "{both}");
    assert!(both.contains("| a.json | The provider's status survives losing its status file | ❌ deviated | completed | yes |"), "{both}");
    assert!(both.contains("| b.json | The provider's status survives a harmless copy | ✅ passed | completed | no |"), "{both}");
}

/// (suite name suffix, tests, failures) of each test suite, in order.
fn suites(xml: &str) -> Vec<(String, usize, usize)> {
    xml.match_indices("<testsuite ")
        .map(|(i, _)| {
            let tag = &xml[i..i + xml[i..].find('>').unwrap_or(0)];
            let attr = |name: &str| {
                let at = tag.find(&format!(" {name}=\"")).map(|p| p + name.len() + 3);
                at.map(|p| tag[p..p + tag[p..].find('"').unwrap_or(0)].to_string())
                    .unwrap_or_default()
            };
            let name = attr("name");
            let suffix = name.rsplit(": ").next().unwrap_or("").to_string();
            (
                suffix,
                attr("tests").parse().unwrap_or(usize::MAX),
                attr("failures").parse().unwrap_or(usize::MAX),
            )
        })
        .collect()
}

#[test]
fn junit_has_a_case_per_probe_per_phase_and_failures_with_tolerance_and_value() {
    let xml = junit::render(&read("chaos-runner-deviated.json"));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_eq!(
        suites(&xml),
        vec![
            ("steady state before the method".into(), 3, 0),
            ("method".into(), 1, 0),
            ("steady state after the method".into(), 1, 1),
            ("rollbacks".into(), 1, 0),
            ("run".into(), 1, 1),
        ]
    );
    assert!(xml.contains("<testsuites name=\"The provider&apos;s status survives losing its status file\" tests=\"7\" failures=\"2\""), "{xml}");
    assert!(xml.contains(
        "<failure type=\"tolerance\" message=\"probe &apos;status-answers-200&apos; not in tolerance: expected 200, got HTTP 404: &lt;!DOCTYPE HTML&gt;"
    ), "{xml}");
    assert!(
        xml.contains(
            "expected (the tolerance as written): 200\ngot: HTTP 404: &lt;!DOCTYPE HTML&gt;"
        ),
        "{xml}"
    );
    assert!(xml.contains("<failure type=\"deviated\" message=\"the steady state deviated (probe &apos;status-answers-200&apos;, steady state after the method)\""), "{xml}");
    assert!(xml.contains("<property name=\"status\" value=\"completed\"/>"));
    assert!(xml.contains("<property name=\"deviated\" value=\"true\"/>"));

    let during = junit::render(&read("chaos-runner-during.json"));
    assert_eq!(
        suites(&during),
        vec![
            ("steady state before the method".into(), 3, 0),
            ("method".into(), 1, 0),
            ("steady state during the method".into(), 9, 0),
            ("steady state after the method".into(), 3, 0),
            ("rollbacks".into(), 1, 0),
            ("run".into(), 1, 0),
        ]
    );
    assert!(during.contains("<testcase name=\"status-says-up (#3)\" classname=\"during\""));

    let error = junit::render(&read("python-chaos-1.19-probe-error.json"));
    assert_eq!(
        suites(&error),
        vec![
            ("steady state before the method".into(), 3, 1),
            ("run".into(), 1, 1)
        ]
    );
    assert!(error.contains("<failure type=\"activity-failed\" message=\"probe &apos;nothing-listens-there&apos; failed: chaoslib.exceptions.ActivityFailed: failed to connect"), "{error}");
    assert!(
        error.contains("Traceback (most recent call last)"),
        "the traceback as the text"
    );
    assert!(
        error.contains("<failure type=\"status\" message=\"the run ended with status failed\"")
    );
}

#[test]
fn control_characters_never_reach_a_report() {
    let j = Journal::from_value(serde_json::json!({
        "experiment": {"title": "nul\u{0} and \u{1b}[31mred"},
        "status": "completed",
        "run": [{"activity": {"name": "p", "type": "action"}, "status": "succeeded",
                 "output": {"status": 0, "stdout": "\u{0}\u{0}", "stderr": ""}}]
    }))
    .expect("reads");
    for (format, text, title) in [
        (
            "html",
            html::render(&[("j.json", &j)]),
            "nul\u{FFFD} and \u{FFFD}[31mred",
        ),
        (
            "markdown",
            markdown::summary(&j),
            "nul\u{FFFD} and \u{FFFD}\\[31mred",
        ),
        (
            "junit",
            junit::render(&j),
            "nul\u{FFFD} and \u{FFFD}[31mred",
        ),
    ] {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t')),
            "{format}"
        );
        assert!(text.contains(title), "{format}: {text}");
    }
}

/// The label of each timeline row: its lines (`<tspan>`s) joined by spaces.
fn timeline_labels(html: &str) -> Vec<String> {
    let svg = html
        .split("class=\"timeline\"")
        .nth(1)
        .and_then(|rest| rest.split("</svg>").next())
        .expect("a timeline");
    svg.split("<text x=\"0\"")
        .skip(1)
        .map(|text| {
            let text = text.split("</text>").next().unwrap_or_default();
            text.split("<tspan ")
                .skip(1)
                .filter_map(|t| t.split('>').nth(1)?.split('<').next())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn timeline_labels_are_shown_whole_however_long() {
    let path = fixture("chaos-runner-completed.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let long = "copy-the-provider-status-file-to-a-place-nobody-reads with a long explanation";
    value["run"][0]["activity"]["name"] = long.into();
    let j = Journal::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let report = html::render(&[("long.json", &j)]);
    let labels = timeline_labels(&report);
    assert_eq!(labels.len(), 8, "{labels:?}");
    // Every character of it, in lines broken at its spaces (or inside a word longer
    // than a line).
    let squeezed = |t: &str| t.replace(' ', "");
    assert!(
        labels
            .iter()
            .any(|l| squeezed(l) == squeezed(&format!("✓ method: {long}"))),
        "the whole label: {labels:?}"
    );
    assert!(
        labels.iter().any(|l| l.contains("with a long explanation")),
        "{labels:?}"
    );
    assert!(!report.contains("more characters)"), "nothing cut");
    // Its lines fit the label column; the rows below it start below its last line.
    let svg = report.split("class=\"timeline\"").nth(1).expect("timeline");
    let ys: Vec<f64> = svg
        .split("<tspan x=\"0\" y=\"")
        .skip(1)
        .map(|t| t.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert!(ys.windows(2).all(|w| w[1] - w[0] >= 13.0), "{ys:?}");
    assert!(ys.len() > 8, "the long label wraps: {ys:?}");
}
