//! Differential test (compatibility tier): random valid experiments (`generate`) run by
//! the reference `chaos` (CASCADE_CHAOS_BIN) and by chaos-runner, their journals
//! compared field by field (`compare`). A difference fails the test unless it is in
//! [`ALLOWED`], each entry naming the README section that explains it.
//!
//! `DIFF_CASES` (default 40) cases from seed `DIFF_SEED` (default 1) up; every
//! difference is printed with its case's seed, which reproduces it alone:
//! `DIFF_SEED=<seed> DIFF_CASES=1`. `DIFF_KEEP=<dir>` keeps each case's experiment,
//! journals and logs there; `DIFF_RUNNER_BIN=<path>` compares that chaos-runner
//! instead of this build's. `bench/differential.sh` runs thousands.

#[path = "../common/mod.rs"]
mod common;
mod compare;
mod generate;

use chaos_runner::Registry;
use chaos_runner::Vars;
use common::*;
use compare::{Difference, differences, view};
use generate::{Case, case};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A difference the README documents: which ones it covers, and where it is explained.
struct Allowance {
    /// A short name for the summary.
    name: &'static str,
    /// The README section (chaos-runner/README.md) that gives the reason.
    readme: &'static str,
    covers: fn(&Seen, &Difference) -> bool,
}

/// One case as both runners saw it.
struct Seen<'a> {
    case: &'a Case,
    /// The reference's view and journal (`None`: it wrote none).
    reference: &'a Value,
    reference_journal: Option<&'a Value>,
    ours: &'a Value,
}

/// The documented differences (chaos-runner/README.md, "Deliberate differences").
const ALLOWED: &[Allowance] = &[
    Allowance {
        name: "exit 1 when the hypothesis before the method is not met",
        readme: "Deliberate differences: a steady-state hypothesis not met before the method",
        covers: |seen, d| d.path == "/exit_code" && seen.reference["before"]["met"] == json!(false),
    },
    Allowance {
        name: "the reference writes a tolerance probe's input into the experiment",
        readme: "Deliberate differences: a probe tolerance's `value`",
        covers: |_, d| {
            d.path
                .ends_with("/activity/tolerance/provider/arguments/value")
                && d.ours.is_null()
        },
    },
    Allowance {
        name: "expected_status (an extension the reference ignores)",
        readme: "Deliberate differences: HTTP, `expected_status`",
        covers: |seen, d| {
            [seen.reference, seen.ours].iter().any(|v| {
                activity_at(v, &d.path)
                    .is_some_and(|a| a["provider"].get("expected_status").is_some())
            })
        },
    },
    Allowance {
        name: "an activity's own `dry` key under --dry (the reference runs it)",
        readme: "Deliberate differences: an activity's own `dry` key",
        // Its record, and the order: it makes its pause before there, so it starts later.
        covers: |seen, d| {
            seen.case.args.iter().any(|a| a == "--dry")
                && [seen.reference, seen.ours].iter().any(|v| {
                    activity_at(v, &d.path).is_some_and(|a| a.get("dry").is_some())
                        || d.path.strip_suffix("/order").is_some_and(|list| {
                            same_runs(d)
                                && v.pointer(&format!("{list}/details"))
                                    .and_then(Value::as_array)
                                    .is_some_and(|runs| {
                                        runs.iter().any(|r| r["activity"].get("dry").is_some())
                                    })
                        })
                })
        },
    },
    Allowance {
        name: "what a method activity with its own `dry` key changed, run by the reference",
        readme: "Deliberate differences: an activity's own `dry` key",
        covers: |seen, d| {
            ["/after", "/deviated", "/exit_code", "/status", "/rollbacks"]
                .iter()
                .any(|p| d.path.starts_with(p))
                && marker_changed_by_dry_key(seen)
        },
    },
    Allowance {
        name: "a header value that is a number once substituted (the reference's requests refuses it)",
        readme: "Deliberate differences: HTTP, a header value that is not text",
        // requests raises InvalidHeader, which nothing in chaoslib catches: the run
        // aborts in the method, ends with no journal in the rollbacks, and a background
        // activity's record is left without a status (its thread's error is dropped).
        covers: |seen, d| {
            number_header(&seen.case.experiment)
                && (seen.reference_journal.is_none()
                    || seen.reference["status"] == json!("aborted")
                    || activity_at(seen.reference, &d.path)
                        .is_some_and(|a| a["provider"]["headers"]["X-Test"] == "${short}"))
        },
    },
    Allowance {
        name: "background activities the reference started at the same moment as another",
        readme: "Deliberate differences: background activities' order",
        covers: |seen, d| seen.reference_journal.is_some_and(|j| racy_order(j, d)),
    },
];

/// Whether an HTTP activity sends a header whose value is `${short}` (a number: the
/// generator's configuration and var file give it as one).
fn number_header(experiment: &Value) -> bool {
    let activities = ["method", "rollbacks"]
        .iter()
        .flat_map(|k| experiment[k].as_array().cloned().unwrap_or_default());
    activities
        .filter_map(|a| a["provider"]["headers"].as_object().cloned())
        .any(|h| h.values().any(|v| v == "${short}"))
}

/// The activity of the run a path into a view points into (`/run/details/3/status`).
fn activity_at<'a>(view: &'a Value, path: &str) -> Option<&'a Value> {
    let at = path.find("/details/")? + "/details/".len();
    let end = path[at..].find('/').map_or(path.len(), |i| at + i);
    view.pointer(&format!("{}/activity", &path[..end]))
}

/// Under `--dry`, a method activity with its own `dry` key that changes the marker
/// (`rm`, `touch`) ran in the reference (it has an output there) and not here: the
/// hypothesis after the method, and what follows from it, may differ.
fn marker_changed_by_dry_key(seen: &Seen) -> bool {
    let details = |v: &Value| v.pointer("/run/details").and_then(Value::as_array).cloned();
    let (Some(theirs), Some(ours)) = (details(seen.reference), details(seen.ours)) else {
        return false;
    };
    seen.case.args.iter().any(|a| a == "--dry")
        && theirs.iter().zip(&ours).any(|(t, o)| {
            let a = &t["activity"];
            a.get("dry").is_some()
                && ["rm", "touch"].contains(&a["provider"]["path"].as_str().unwrap_or(""))
                && !t["output"].is_null()
                && o["output"].is_null()
        })
}

/// Whether an order difference lists the same runs (names, each as often) both ways.
fn same_runs(d: &Difference) -> bool {
    let sorted = |v: &Value| {
        let mut names: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(|n| n.to_string()).collect())
            .unwrap_or_default();
        names.sort();
        names
    };
    sorted(&d.reference) == sorted(&d.ours)
}

/// Seconds of the day of a journal timestamp (`2026-12-02T02:24:12.903763+00:00`).
fn seconds_of_day(t: &Value) -> Option<f64> {
    let t = t.as_str()?.get(11..26)?;
    let mut parts = t.split(':').map(|p| p.parse::<f64>().ok());
    Some(parts.next()?? * 3600.0 + parts.next()?? * 60.0 + parts.next()??)
}

/// An order difference in `run` or `rollbacks` where every pair of activities the two
/// runners recorded the other way round started within 25 ms of each other in the
/// reference: its background thread's start and the next activity's are a race there.
fn racy_order(journal: &Value, d: &Difference) -> bool {
    let list = match d.path.as_str() {
        "/run/order" => &journal["run"],
        "/rollbacks/order" => &journal["rollbacks"],
        _ => return false,
    };
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|n| n.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Each run as (name, how many of that name came before it).
    let labels = |names: &[String]| -> Vec<(String, usize)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), names[..i].iter().filter(|m| *m == n).count()))
            .collect()
    };
    let (theirs, ours) = (labels(&names(&d.reference)), labels(&names(&d.ours)));
    let mut sorted = (theirs.clone(), ours.clone());
    sorted.0.sort();
    sorted.1.sort();
    let starts: Vec<Option<f64>> = list
        .as_array()
        .map(|a| a.iter().map(|r| seconds_of_day(&r["start"])).collect())
        .unwrap_or_default();
    if sorted.0 != sorted.1 || starts.len() != theirs.len() {
        return false;
    }
    let position = |label: &(String, usize)| ours.iter().position(|l| l == label);
    for i in 0..theirs.len() {
        for j in i + 1..theirs.len() {
            if position(&theirs[i]) > position(&theirs[j]) {
                match (starts[i], starts[j]) {
                    (Some(a), Some(b)) if (a - b).abs() < 0.025 => {}
                    _ => return false,
                }
            }
        }
    }
    true
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

/// One case through both runners at once: (reference view, its journal, our view).
fn run_case(c: &Case, reference: &Path, ours: &Path, dir: &Path) -> (Value, Option<Value>, Value) {
    std::fs::create_dir_all(dir).expect("case dir");
    let file = dir.join("experiment.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&c.experiment).expect("serialize"),
    )
    .expect("write experiment");
    let mut args = c.args.clone();
    if let Some(vars) = &c.var_file {
        let path = dir.join("vars.json");
        std::fs::write(&path, vars.to_string()).expect("write var file");
        args.extend(["--var-file".into(), path.display().to_string()]);
    }
    let (theirs, ours) = std::thread::scope(|scope| {
        let theirs = scope.spawn(|| {
            run_runner(
                reference,
                &["--no-version-check", "--no-log-file"],
                &file,
                &dir.join("reference"),
                &args,
            )
        });
        let ours = run_runner(ours, &[], &file, &dir.join("ours"), &args);
        (theirs.join().expect("reference thread"), ours)
    });
    (
        view(theirs.1.as_ref(), theirs.0),
        theirs.1,
        view(ours.1.as_ref(), ours.0),
    )
}

#[test]
#[ignore = "compatibility tier: needs the Python chaos; scripts/test.sh runs it"]
fn compat_tier_differential_random_experiments() {
    let reference = test_kit::tier::chaos_bin();
    let cases = env_number("DIFF_CASES", 40);
    let first = env_number("DIFF_SEED", 1);
    let keep = std::env::var_os("DIFF_KEEP").map(std::path::PathBuf::from);
    // A copy of the binary to compare, when the target dir is shared with other
    // checkouts (their builds replace target/debug/chaos-runner).
    let ours = std::env::var_os("DIFF_RUNNER_BIN").map_or_else(bin, std::path::PathBuf::from);
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = keep.as_deref().unwrap_or(tmp.path());
    let clock = Instant::now();

    let mut agreed = 0u64;
    let mut only_allowed = 0u64;
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut allowed_by: BTreeMap<&str, u64> = BTreeMap::new();
    let mut tags: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    for seed in first..first + cases {
        let c = case(seed);
        for t in &c.tags {
            *tags.entry(t).or_default() += 1;
        }
        let (theirs, their_journal, ours) =
            run_case(&c, &reference, &ours, &root.join(format!("case-{seed}")));
        let seen = Seen {
            case: &c,
            reference: &theirs,
            reference_journal: their_journal.as_ref(),
            ours: &ours,
        };
        let diffs = differences(&theirs, &ours);
        if diffs.is_empty() {
            agreed += 1;
            continue;
        }
        let mut unexplained = Vec::new();
        for d in &diffs {
            match ALLOWED.iter().find(|a| (a.covers)(&seen, d)) {
                Some(a) => *allowed_by.entry(a.name).or_default() += 1,
                None => {
                    *by_kind.entry(d.kind()).or_default() += 1;
                    unexplained.push(d);
                }
            }
        }
        if unexplained.is_empty() {
            only_allowed += 1;
            continue;
        }
        let mut text = format!(
            "seed {seed} (DIFF_SEED={seed} DIFF_CASES=1), options {:?}, tags {:?}:\n",
            c.args, c.tags
        );
        for d in unexplained {
            text.push_str(&format!("  {d}\n"));
        }
        eprint!("{text}");
        failures.push(text);
    }

    println!(
        "differential: {cases} cases from seed {first} in {:.1} s: {agreed} agreed, {only_allowed} with documented differences only, {} with other differences",
        clock.elapsed().as_secs_f64(),
        failures.len()
    );
    for (name, n) in &allowed_by {
        let readme = ALLOWED
            .iter()
            .find(|a| a.name == *name)
            .map_or("", |a| a.readme);
        println!("  documented: {n} x {name} (README: {readme})");
    }
    for (kind, n) in &by_kind {
        println!("  differing: {n} x {kind}");
    }
    println!(
        "  exercised: {}",
        tags.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ beyond the documented differences:\n{}",
        failures.len(),
        failures.join("")
    );
}

/// The generator gives valid experiments (chaos-runner's validation, which is the
/// reference's and more), the same for the same seed, and covers what it should.
#[test]
fn generated_experiments_are_valid_and_reproducible() {
    let mut vars = Vars::default();
    vars.configuration
        .insert("base_url".into(), json!("http://127.0.0.1:1"));
    vars.configuration
        .insert("marker".into(), json!("/tmp/marker"));
    vars.configuration
        .insert("from_file".into(), json!("a value"));
    let mut tags = std::collections::BTreeSet::new();
    // One registry, so one Python interpreter checks every case's Python activities.
    let registry = Registry::builtin();
    for seed in 0..400 {
        let c = case(seed);
        let report = chaos_runner::validate(
            &chaos_runner::Experiment::from_value(c.experiment.clone()),
            &registry,
            &vars,
        );
        assert!(
            report.problems.is_empty(),
            "seed {seed}: {:?}\n{}",
            report
                .problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            c.experiment
        );
        assert_eq!(case(seed).experiment, c.experiment, "seed {seed}");
        assert_eq!(case(seed).args, c.args, "seed {seed}");
        tags.extend(c.tags.iter().copied());
    }
    for wanted in [
        "tolerance-status",
        "tolerance-regex",
        "tolerance-jsonpath",
        "tolerance-int",
        "tolerance-stdout",
        "tolerance-other",
        "tolerance-probe",
        "marker",
        "ref",
        "background",
        "pauses",
        "activity-dry",
        "expected-status",
        "strategy",
        "strategy-during",
        "fail-fast",
        "dry",
        "rollback-strategy",
        "runtime-strategy",
        "process-timeout",
        "http-failure",
        "python",
        "python-failure",
        "secrets",
        "var-file",
        "max-retries",
        "header-values",
    ] {
        assert!(tags.contains(wanted), "no case exercises {wanted}");
    }
}

/// The comparison finds what differs, once per field, and nothing else.
#[test]
fn comparison_reports_each_differing_field() {
    let run = |name: &str, status: &str| {
        json!({"activity": {"name": name, "type": "action"}, "output": {"status": 200,
               "headers": {"Date": "x", "content-type": "text/plain"}, "body": "hello"},
               "start": "t0", "end": "t1", "duration": 0.1, "status": status})
    };
    let journal = |runs: Value| {
        json!({"status": "completed", "deviated": false, "experiment": {"title": "t", "dry": null},
               "steady_states": {"before": null, "after": null, "during": []},
               "run": runs, "rollbacks": []})
    };
    let a = journal(json!([run("a", "succeeded"), run("b", "failed")]));
    assert_eq!(differences(&view(Some(&a), 0), &view(Some(&a), 0)), vec![]);

    // Timestamps, durations and header values other than Content-Type don't count.
    let mut b = a.clone();
    b["run"][0]["start"] = json!("t9");
    b["run"][0]["duration"] = json!(9.0);
    b["run"][0]["output"]["headers"] = json!({"Date": "y", "Content-Type": "text/plain"});
    assert_eq!(differences(&view(Some(&a), 0), &view(Some(&b), 0)), vec![]);

    let mut c = a.clone();
    c["run"][1]["status"] = json!("succeeded");
    let d = differences(&view(Some(&a), 0), &view(Some(&c), 1));
    let kinds: Vec<String> = d.iter().map(Difference::kind).collect();
    assert_eq!(kinds, ["exit_code", "run/details[]/status"], "{d:?}");

    // An order difference is one difference.
    let swapped = journal(json!([run("b", "failed"), run("a", "succeeded")]));
    let d = differences(&view(Some(&a), 0), &view(Some(&swapped), 0));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].kind(), "run/order");

    // No journal at all.
    let d = differences(&view(Some(&a), 0), &view(None, 1));
    assert!(d.iter().any(|d| d.path == "/journal"), "{d:?}");
}

/// The order allowance accepts only a swap of activities that started together in the
/// reference; the per-activity ones find the activity a difference is about.
#[test]
fn allowances_cover_only_what_they_document() {
    let run = |name: &str, start: &str| {
        json!({"activity": {"name": name, "provider": {"type": "http", "expected_status": 200}},
               "start": format!("2026-12-02T02:24:{start}+00:00"), "status": "succeeded"})
    };
    let order = |reference: Value, ours: Value| Difference {
        path: "/run/order".into(),
        reference,
        ours,
    };
    let together = json!({"run": [run("a", "12.903763"), run("b", "12.910626")]});
    let apart = json!({"run": [run("a", "12.903763"), run("b", "13.003763")]});
    let swap = order(json!(["a", "b"]), json!(["b", "a"]));
    assert!(racy_order(&together, &swap));
    assert!(!racy_order(&apart, &swap), "100 ms apart is no race");
    assert!(
        !racy_order(&together, &order(json!(["a", "b"]), json!(["b", "b"]))),
        "not the same runs"
    );
    let mut rollback = swap.clone();
    rollback.path = "/before/probes/order".into();
    assert!(!racy_order(&together, &rollback), "only run and rollbacks");

    let v = view(Some(&json!({"run": [run("b", "1.0"), run("a", "1.0")]})), 0);
    assert_eq!(
        activity_at(&v, "/run/details/1/status").map(|a| a["name"].clone()),
        Some(json!("b")),
        "details are sorted by name"
    );
    assert_eq!(activity_at(&v, "/exit_code"), None);
}

/// Under --dry, an activity with its own `dry` key runs in the reference: its record,
/// the order and what its marker change leads to are covered; nothing without --dry.
#[test]
fn the_dry_key_allowance_needs_dry_and_the_key() {
    let run = |name: &str, dry_key: bool, output: Value| {
        let mut activity = json!({"name": name, "provider": {"type": "process", "path": "touch"}});
        if dry_key {
            activity["dry"] = json!("pause");
        }
        json!({"activity": activity, "output": output, "status": "succeeded",
               "start": "2026-12-02T02:24:12.000000+00:00"})
    };
    let journal = |runs: Value| json!({"run": runs, "rollbacks": []});
    let theirs = view(
        Some(&journal(json!([
            run("a", false, json!(null)),
            run("b", true, json!({"status": 0}))
        ]))),
        0,
    );
    let ours = view(
        Some(&journal(json!([
            run("b", true, json!(null)),
            run("a", false, json!(null))
        ]))),
        1,
    );
    let allowed = |args: &[&str]| -> Vec<bool> {
        let case = Case {
            seed: 0,
            experiment: json!({}),
            args: args.iter().map(|a| a.to_string()).collect(),
            tags: vec![],
            var_file: None,
        };
        let seen = Seen {
            case: &case,
            reference: &theirs,
            reference_journal: None,
            ours: &ours,
        };
        differences(&theirs, &ours)
            .iter()
            .map(|d| ALLOWED.iter().any(|a| (a.covers)(&seen, d)))
            .collect()
    };
    let kinds: Vec<String> = differences(&theirs, &ours)
        .iter()
        .map(Difference::kind)
        .collect();
    assert_eq!(kinds, ["exit_code", "run/order", "run/details[]/output"]);
    assert_eq!(allowed(&["--dry", "actions"]), [true, true, true]);
    assert_eq!(allowed(&[]), [false, false, false]);
}

/// The number-header allowance needs such a header and a reference that aborted or
/// wrote nothing.
#[test]
fn the_number_header_allowance_needs_the_header_and_the_references_failure() {
    let with = |value: &str| {
        json!({"method": [{"type": "action", "name": "h", "provider":
            {"type": "http", "url": "${base_url}/echo", "headers": {"X-Test": value}}}]})
    };
    assert!(number_header(&with("${short}")));
    assert!(!number_header(&with("${word}")));
    let ours = view(
        Some(&json!({"status": "completed", "run": [], "rollbacks": []})),
        0,
    );
    let allowed = |experiment: Value, reference: &Value| {
        let case = Case {
            seed: 0,
            experiment,
            args: vec![],
            tags: vec![],
            var_file: None,
        };
        let seen = Seen {
            case: &case,
            reference,
            reference_journal: None,
            ours: &ours,
        };
        differences(reference, &ours)
            .iter()
            .all(|d| ALLOWED.iter().any(|a| (a.covers)(&seen, d)))
    };
    let crashed = view(None, 1);
    assert!(allowed(with("${short}"), &crashed));
    assert!(!allowed(with("${word}"), &crashed));
}
