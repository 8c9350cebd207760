//! The users in the reports: a run's journal with the lab's users' series (JSON lines)
//! shows their requests by outcome on the run's time axis and a before/after table in
//! the HTML, and the table in the Markdown; without a series, the reports are unchanged.

use chrono::{DateTime, Duration, Utc};
use journal_report::{Journal, Traffic, html, markdown};
use std::path::PathBuf;

/// The deviated fixture stretched to 10 s, its method's action at 3 s (the fixture's
/// run is a quarter of a second, shorter than a bucket).
fn journal() -> Journal {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chaos-runner-deviated.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let t0: DateTime<Utc> = "2026-12-02T02:08:20Z".parse().expect("time");
    let at = |s: i64| (t0 + Duration::milliseconds(s)).to_rfc3339();
    value["start"] = at(0).into();
    value["end"] = at(10_000).into();
    value["duration"] = 10.0.into();
    let run = &mut value["run"][0];
    run["start"] = at(3_000).into();
    run["end"] = at(3_100).into();
    for (phase, from) in [("before", 100), ("after", 9_000)] {
        if let Some(probes) = value["steady_states"][phase]["probes"].as_array_mut() {
            for probe in probes {
                probe["start"] = at(from).into();
                probe["end"] = at(from + 50).into();
            }
        }
    }
    Journal::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// Buckets of 250 ms from 2 s before the run to 2 s after it, 5 requests each: all ok
/// before the method's first activity, all failed from it on.
fn series(j: &Journal) -> String {
    let start = j.start.expect("start");
    let end = j.end.expect("end");
    let fault = j
        .method
        .iter()
        .filter_map(|r| r.start)
        .min()
        .expect("method");
    let mut lines = String::new();
    let mut at: DateTime<Utc> = start - Duration::seconds(2);
    while at < end + Duration::seconds(2) {
        let (ok, failed) = if at < fault { (5, 0) } else { (0, 5) };
        lines.push_str(&format!(
            "{{\"start\":\"{}\",\"offset_s\":0,\"window_s\":0.25,\"sent\":5,\"ok\":{ok},\"degraded\":0,\"failed\":{failed},\"timed_out\":0,\"in_flight\":0,\"p50_ms\":3.5,\"p99_ms\":9.0,\"max_ms\":9.0,\"degraded_reasons\":{{}},\"failure_causes\":{{}}}}\n",
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ));
        at += Duration::milliseconds(250);
    }
    lines
}

#[test]
fn the_html_report_draws_the_users_on_the_run_axis_with_a_before_after_table() {
    let j = journal();
    let traffic = Traffic::from_jsonl(&series(&j)).expect("series");
    let named = [("journal.json", &j)];
    let with = html::render_with_users(&named, Some(&traffic));
    for needle in [
        "<section class=\"users\">",
        "<h3>The users</h3>",
        "class=\"users-chart\"",
        "class=\"users-bar\"",
        "<tr data-window=\"before the method\">",
        "<tr data-window=\"from the method to the end\">",
        "latency p50",
        "stroke-dasharray=\"5 3\"",
        "degraded (fallback)",
    ] {
        assert!(with.contains(needle), "{needle} missing");
    }
    let row = |window: &str| {
        let at = with
            .find(&format!("data-window=\"{window}\""))
            .expect(window);
        with[at..at + with[at..].find("</tr>").expect("row end")].to_string()
    };
    // Before the method: the 2 s of users before the run (one series leading into it)
    // and its first 3 s, 20 buckets of 5 requests, all ok.
    let before = row("before the method");
    assert!(
        before.contains("<td>100 (100 %)</td>") && before.contains("<td>0 (0 %)</td>"),
        "{before}"
    );
    assert!(
        with.contains("class=\"run-start\"") && with.contains(">-2.0 s<"),
        "the lead-in is not drawn"
    );
    let after = row("from the method to the end");
    let cells: Vec<&str> = after.split("<td>").skip(1).collect();
    assert!(
        cells[0].starts_with("0 (0 %)"),
        "ok after the method: {after}"
    );
    assert!(
        cells[2].contains("(100 %)"),
        "failed after the method: {after}"
    );
    assert!(
        cells[4].starts_with("4 ms") && cells[5].starts_with("9 ms"),
        "{after}"
    );
    // The method's activity is marked on the users' axis, by name.
    let action = &j.method[0].name;
    assert!(with.contains(&format!("method: {action} at ")), "{action}");

    // Without the series: the report as before, no users' section.
    let without = html::render(&named);
    assert!(!without.contains("class=\"users-chart\"") && !without.contains("<h3>The users</h3>"));
    assert_eq!(without, html::render_with_users(&named, None));
}

#[test]
fn the_markdown_summary_gets_the_users_table_only_with_a_series() {
    let j = journal();
    let traffic = Traffic::from_jsonl(&series(&j)).expect("series");
    let named = [("journal.json", &j)];
    let with = markdown::render_with_users(&named, Some(&traffic));
    assert!(with.contains("| users' requests | ok |"), "{with}");
    assert!(with.contains("| before the method | "), "{with}");
    assert_eq!(
        markdown::render(&named),
        markdown::render_with_users(&named, None)
    );
    assert!(!markdown::render(&named).contains("users' requests"));
}

#[test]
fn a_series_outside_the_run_says_so_instead_of_drawing_nothing() {
    let j = journal();
    let late = j.end.expect("end") + Duration::hours(1);
    let line = format!(
        "{{\"start\":\"{}\",\"window_s\":1,\"sent\":1,\"ok\":1,\"degraded\":0,\"failed\":0,\"timed_out\":0}}\n",
        late.to_rfc3339()
    );
    let traffic = Traffic::from_jsonl(&line).expect("series");
    let report = html::render_with_users(&[("j", &j)], Some(&traffic));
    assert!(report.contains("no request during this run"));
}

/// The `(x, y, number)` of each mark's number on the users' chart, and the chart's
/// translation (the room made above it).
fn mark_numbers(html: &str) -> (Vec<(f64, f64, String)>, f64) {
    let chart = html
        .split("class=\"users-chart\"")
        .nth(1)
        .expect("a users' chart");
    let translate = chart
        .split("translate(0,")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse::<f64>().ok())
        .expect("the chart's translation");
    let numbers = chart
        .split("<text ")
        .skip(1)
        .filter(|t| t.contains("class=\"tick mark-number\""))
        .map(|t| {
            let attr = |name: &str| -> f64 {
                t.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no {name} in {t}"))
            };
            let number = t.split('>').nth(1).and_then(|r| r.split('<').next());
            (attr("x"), attr("y"), number.unwrap_or_default().to_string())
        })
        .collect();
    (numbers, translate)
}

#[test]
fn marks_close_in_time_get_numbers_that_do_not_overlap() {
    // Three of the method's activities 20 ms apart (under a pixel on the chart) and
    // one a second later.
    let value: serde_json::Value = {
        let j = journal();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/chaos-runner-deviated.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
        let at = |s: i64| (j.start.expect("start") + Duration::milliseconds(s)).to_rfc3339();
        v["start"] = at(0).into();
        v["end"] = at(10_000).into();
        let first = v["run"][0].clone();
        let runs: Vec<serde_json::Value> = [3_000, 3_020, 3_040, 4_000]
            .iter()
            .enumerate()
            .map(|(n, &ms)| {
                let mut run = first.clone();
                run["activity"]["name"] = format!("action-{n}").into();
                run["start"] = at(ms).into();
                run["end"] = at(ms + 10).into();
                run
            })
            .collect();
        v["run"] = runs.into();
        v
    };
    let j = Journal::from_json(&value.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let traffic = Traffic::from_jsonl(&series(&j)).expect("series");
    let html = html::render_with_users(&[("run.json", &j)], Some(&traffic));
    let (numbers, translate) = mark_numbers(&html);
    let names: Vec<&str> = numbers.iter().map(|(_, _, n)| n.as_str()).collect();
    // The four actions, then the fixture's rollback.
    assert_eq!(names, ["1", "2", "3", "4", "5"], "{numbers:?}");
    for (i, a) in numbers.iter().enumerate() {
        for b in &numbers[i + 1..] {
            let apart = (a.0 - b.0).abs() >= 16.0 || (a.1 - b.1).abs() >= 12.0;
            assert!(apart, "marks {} and {} overlap: {numbers:?}", a.2, b.2);
        }
        // Inside the picture once the room above is counted.
        assert!(
            a.1 + translate >= 9.0,
            "{a:?} above the chart ({translate})"
        );
    }
    // The three close ones stack; the one a second later shares the lowest line.
    assert_eq!(translate, 24.0);
    assert_eq!(numbers[3].1, numbers[0].1);
}
