//! JUnit XML for CI: one test suite per phase, one test case per probe of each
//! hypothesis run (before, during, after), per activity of the method and per rollback,
//! and one for the run itself (failed unless it completed without deviating, so a
//! failed run never shows green). A probe outside its tolerance is a `<failure
//! type="tolerance">` carrying the tolerance as written and the value seen.
//!
//! Written with quick-xml, which escapes every attribute and text; characters XML
//! cannot carry at all are replaced first ([`xml_safe`]). Only `failure` and `skipped`
//! are used inside a test case: both the Jenkins and the Maven Surefire schemas accept
//! them.

use crate::model::{ActivityRun, Journal, Phase, RunStatus, Verdict};
use crate::text::{LONG, SHORT, expected, got, truncate, xml_safe};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::io;

/// The JUnit XML document of one journal.
pub fn render(journal: &Journal) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec cannot fail.
    let _ = write(&mut writer, journal);
    String::from_utf8_lossy(&writer.into_inner()).into_owned()
}

/// One test case.
struct Case {
    name: String,
    classname: &'static str,
    time: Option<f64>,
    verdict: CaseVerdict,
}

enum CaseVerdict {
    Passed,
    Failed {
        kind: &'static str,
        message: String,
        text: String,
    },
    Skipped(&'static str),
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

fn case(phase: Phase, run: &ActivityRun, hypothesis: bool) -> Case {
    let name = match phase {
        Phase::During(n) => format!("{} (#{n})", run.name),
        _ => run.name.clone(),
    };
    let verdict = if run.status.is_none() {
        CaseVerdict::Skipped("interrupted while it ran: no result")
    } else if run.status != Some(RunStatus::Succeeded) {
        let error = if run.exception.is_empty() {
            got(run, LONG)
        } else {
            truncate(&run.exception.concat(), LONG).into_owned()
        };
        CaseVerdict::Failed {
            kind: "activity-failed",
            message: format!(
                "{} '{}' failed: {}",
                kind_word(run),
                run.name,
                run.error_message()
                    .map_or_else(|| got(run, SHORT), |m| truncate(m, SHORT).into_owned())
            ),
            text: error,
        }
    } else if hypothesis && run.tolerance_met == Some(false) {
        CaseVerdict::Failed {
            kind: "tolerance",
            message: format!(
                "probe '{}' not in tolerance: expected {}, got {}",
                run.name,
                truncate(&expected(run), SHORT),
                got(run, SHORT)
            ),
            text: format!(
                "expected (the tolerance as written): {}\ngot: {}\n",
                expected(run),
                got(run, LONG)
            ),
        }
    } else {
        CaseVerdict::Passed
    };
    Case {
        name,
        classname: phase.key(),
        time: run.duration,
        verdict,
    }
}

fn kind_word(run: &ActivityRun) -> &'static str {
    match run.kind {
        crate::model::Kind::Probe => "probe",
        _ => "action",
    }
}

fn suites(journal: &Journal) -> Vec<Suite> {
    let mut suites = Vec::new();
    let mut phase = |label: &str, cases: Vec<Case>| {
        if !cases.is_empty() {
            suites.push(Suite {
                name: format!("{}: {label}", journal.title),
                cases,
            });
        }
    };
    let hypothesis = |phase: Phase, runs: &[ActivityRun]| -> Vec<Case> {
        runs.iter().map(|r| case(phase, r, true)).collect()
    };
    if let Some(h) = &journal.before {
        phase(
            "steady state before the method",
            hypothesis(Phase::Before, &h.probes),
        );
    }
    phase(
        "method",
        journal
            .method
            .iter()
            .map(|r| case(Phase::Method, r, false))
            .collect(),
    );
    let during: Vec<Case> = journal
        .during
        .iter()
        .enumerate()
        .flat_map(|(i, h)| hypothesis(Phase::During(i + 1), &h.probes))
        .collect();
    phase("steady state during the method", during);
    if let Some(h) = &journal.after {
        phase(
            "steady state after the method",
            hypothesis(Phase::After, &h.probes),
        );
    }
    phase(
        "rollbacks",
        journal
            .rollbacks
            .iter()
            .map(|r| case(Phase::Rollbacks, r, false))
            .collect(),
    );
    suites.push(Suite {
        name: format!("{}: run", journal.title),
        cases: vec![run_case(journal)],
    });
    suites
}

/// The run as a whole: passes only when it completed without deviating.
fn run_case(journal: &Journal) -> Case {
    let verdict = match journal.verdict() {
        Verdict::Passed => CaseVerdict::Passed,
        Verdict::Deviated => {
            let probe = journal
                .failing_probe()
                .map(|(phase, p)| format!(" (probe '{}', {})", p.name, phase.label()))
                .unwrap_or_default();
            CaseVerdict::Failed {
                kind: "deviated",
                message: format!("the steady state deviated{probe}"),
                text: format!("status: {}, deviated: true\n", journal.status.as_str()),
            }
        }
        Verdict::NotMetBefore => CaseVerdict::Failed {
            kind: "not-met-before",
            message: format!(
                "the steady state was not met before the method, so the method did not run{}",
                journal
                    .failing_probe()
                    .map(|(_, p)| format!(" (probe '{}')", p.name))
                    .unwrap_or_default()
            ),
            text: format!("status: {}, deviated: false\n", journal.status.as_str()),
        },
        Verdict::NotCompleted => CaseVerdict::Failed {
            kind: "status",
            message: format!("the run ended with status {}", journal.status.as_str()),
            text: format!("status: {}, deviated: false\n", journal.status.as_str()),
        },
    };
    Case {
        name: "the experiment completed and its steady state held".into(),
        classname: "run",
        time: journal.duration,
        verdict,
    }
}

/// JUnit's times: seconds with at most 3 decimals (the Surefire pattern).
fn time(seconds: Option<f64>) -> String {
    // `+ 0.0` turns -0 (an empty sum of f64 is -0) into 0: the pattern has no sign.
    format!("{:.3}", seconds.unwrap_or(0.0).clamp(0.0, 1e9) + 0.0)
}

fn count(cases: &[Case], f: impl Fn(&CaseVerdict) -> bool) -> String {
    cases.iter().filter(|c| f(&c.verdict)).count().to_string()
}

fn failed(v: &CaseVerdict) -> bool {
    matches!(v, CaseVerdict::Failed { .. })
}

fn skipped(v: &CaseVerdict) -> bool {
    matches!(v, CaseVerdict::Skipped(_))
}

fn write(w: &mut Writer<Vec<u8>>, journal: &Journal) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let suites = suites(journal);
    let all: Vec<&Case> = suites.iter().flat_map(|s| &s.cases).collect();
    let total_failed = all.iter().filter(|c| failed(&c.verdict)).count();
    let title = xml_safe(&journal.title);
    let timestamp = journal
        .start
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
    let node = journal.node.as_deref().map(xml_safe);
    w.create_element("testsuites")
        .with_attribute(("name", title.as_ref()))
        .with_attribute(("tests", all.len().to_string().as_str()))
        .with_attribute(("failures", total_failed.to_string().as_str()))
        .with_attribute(("errors", "0"))
        .with_attribute(("time", time(journal.duration).as_str()))
        .write_inner_content(|w| {
            for (i, suite) in suites.iter().enumerate() {
                let name = xml_safe(&suite.name);
                let time_sum: f64 = suite.cases.iter().filter_map(|c| c.time).sum();
                let mut element = w
                    .create_element("testsuite")
                    .with_attribute(("name", name.as_ref()))
                    .with_attribute(("tests", suite.cases.len().to_string().as_str()))
                    .with_attribute(("failures", count(&suite.cases, failed).as_str()))
                    .with_attribute(("errors", "0"))
                    .with_attribute(("skipped", count(&suite.cases, skipped).as_str()))
                    .with_attribute(("time", time(Some(time_sum)).as_str()))
                    .with_attribute(("id", i.to_string().as_str()));
                if let Some(t) = &timestamp {
                    element = element.with_attribute(("timestamp", t.as_str()));
                }
                if let Some(n) = &node {
                    element = element.with_attribute(("hostname", n.as_ref()));
                }
                let is_run = i + 1 == suites.len();
                element.write_inner_content(|w| {
                    if is_run {
                        properties(w, journal)?;
                    }
                    for case in &suite.cases {
                        write_case(w, case)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

fn properties(w: &mut Writer<Vec<u8>>, journal: &Journal) -> io::Result<()> {
    let mut props: Vec<(&str, String)> = vec![
        ("status", journal.status.as_str().to_string()),
        ("deviated", journal.deviated.to_string()),
    ];
    if let Some(v) = &journal.chaoslib_version {
        props.push(("chaoslib-version", v.clone()));
    }
    if let Some(p) = &journal.platform {
        props.push(("platform", p.clone()));
    }
    w.create_element("properties").write_inner_content(|w| {
        for (name, value) in &props {
            w.create_element("property")
                .with_attribute(("name", *name))
                .with_attribute(("value", xml_safe(value).as_ref()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, case: &Case) -> io::Result<()> {
    let name = xml_safe(&case.name);
    let element = w
        .create_element("testcase")
        .with_attribute(("name", name.as_ref()))
        .with_attribute(("classname", case.classname))
        .with_attribute(("time", time(case.time).as_str()));
    match &case.verdict {
        CaseVerdict::Passed => {
            element.write_empty()?;
        }
        CaseVerdict::Skipped(why) => {
            element.write_inner_content(|w| {
                w.create_element("skipped")
                    .with_attribute(("message", *why))
                    .write_empty()?;
                Ok(())
            })?;
        }
        CaseVerdict::Failed {
            kind,
            message,
            text,
        } => {
            element.write_inner_content(|w| {
                w.create_element("failure")
                    .with_attribute(("type", *kind))
                    .with_attribute(("message", xml_safe(message).as_ref()))
                    .write_text_content(BytesText::new(&xml_safe(text)))?;
                Ok(())
            })?;
        }
    }
    Ok(())
}
