//! Runs that end early as chaostoolkit-lib 1.44's do (issue 26, part 1): chaoslib's
//! `exit_gracefully` / `exit_ungracefully` called by Python code through the bridge,
//! controls that stop the run before its method or add keys to the journal, an
//! interruption during the rollbacks, and the continuous hypothesis stopped by either.
//! The expectations are what the reference's run does (its `Runner._run`,
//! `run_rollback` and `exit_signals`; the same experiments are run side by side with it
//! in the compatibility tier, tests/fixtures/compat/12-* to 23-*).
//!
//! Local tier: the bridge runs on the system's `python3`; the fixture module
//! (tests/fixtures/python/cascade_exits.py) stands in for chaoslib's exit functions as
//! they are written (a signal to its own process) when chaoslib is not installed.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixture_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python")
}

/// The system's `python3` (the local tier's one requirement here).
fn python3() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("these tests need python3 on PATH")
}

fn call(name: &str, func: &str, arguments: Value) -> Value {
    json!({"type": "action", "name": name,
           "provider": {"type": "python", "module": "cascade_exits", "func": func, "arguments": arguments}})
}

fn leave(name: &str, how: &str) -> Value {
    call(name, "leave", json!({"how": how}))
}

fn quick(name: &str) -> Value {
    call(name, "pause", json!({"seconds": 0}))
}

/// A hypothesis of one Python probe that holds.
fn holds() -> Value {
    json!([{"type": "probe", "name": "root-exists", "tolerance": true,
            "provider": {"type": "python", "module": "os.path", "func": "exists",
                         "arguments": {"path": "/"}}}])
}

/// The fixture module as a control, with `arguments`.
fn control(arguments: Value) -> Value {
    json!([{"name": "stops", "provider": {"type": "python", "module": "cascade_exits",
                                           "arguments": arguments}}])
}

fn run(experiment: &Value, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = python3();
    let r = run_cli_with(
        dir.path(),
        experiment,
        extra,
        &[
            ("PYTHONPATH", fixture_modules().as_os_str()),
            (chaos_runner::PYTHON_ENV, python.as_os_str()),
        ],
    );
    let journal = r
        .journal
        .unwrap_or_else(|| panic!("no journal:\n{}", r.stderr));
    (r.code, journal, r.stderr)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn keys(j: &Value) -> Vec<String> {
    j.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

const KEYS: [&str; 12] = [
    "chaoslib-version",
    "platform",
    "node",
    "experiment",
    "start",
    "status",
    "deviated",
    "steady_states",
    "run",
    "rollbacks",
    "end",
    "duration",
];

#[test]
fn exit_gracefully_interrupts_the_run_and_the_strategy_decides_the_rollbacks() {
    let e = experiment(
        holds(),
        json!([quick("first"), leave("leave", "gracefully"), quick("never")]),
        json!([quick("undo")]),
    );
    for (strategy, rollbacks) in [
        ("default", vec![]),
        ("always", vec![("undo", "succeeded")]),
        ("never", vec![]),
    ] {
        let (code, j, stderr) = run(&e, &["--rollback-strategy", strategy]);
        assert_eq!(code, 1, "{strategy}: {stderr}");
        assert_eq!(j["status"], "interrupted", "{strategy}");
        assert_eq!(j["deviated"], false);
        assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
        assert_eq!(j["steady_states"]["after"], Value::Null, "{strategy}");
        // The activity that asked never ends: no status, no output, no exception.
        assert_eq!(
            statuses(&j["run"]),
            pairs(&[("first", "succeeded"), ("leave", "<none>")]),
            "{strategy}"
        );
        assert_eq!(j["run"][1]["output"], Value::Null);
        assert!(j["run"][1].get("exception").is_none(), "{}", j["run"][1]);
        assert_eq!(statuses(&j["rollbacks"]), pairs(&rollbacks), "{strategy}");
        assert_eq!(keys(&j), KEYS, "{strategy}");
        assert!(
            stderr.contains("Received the exit signal: 20"),
            "{strategy}: {stderr}"
        );
    }
}

#[test]
fn exit_ungracefully_plays_no_rollback_whatever_the_strategy() {
    let e = experiment(
        holds(),
        json!([
            quick("first"),
            leave("leave", "ungracefully"),
            quick("never")
        ]),
        json!([quick("undo")]),
    );
    for strategy in ["always", "default"] {
        let (code, j, stderr) = run(&e, &["--rollback-strategy", strategy]);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(j["status"], "interrupted");
        assert_eq!(
            statuses(&j["run"]),
            pairs(&[("first", "succeeded"), ("leave", "<none>")])
        );
        assert_eq!(j["rollbacks"], json!([]), "{strategy}");
        assert!(
            stderr.contains("Received the exit signal: 30")
                && stderr.contains("Ignoring rollbacks as per signal"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("Rollbacks were explicitly requested"),
            "the strategy is not even consulted: {stderr}"
        );
    }
}

#[test]
fn an_exit_during_the_rollbacks_ends_them() {
    let e = experiment(
        holds(),
        json!([quick("first")]),
        json!([leave("leave", "gracefully"), quick("undo")]),
    );
    let (code, j, stderr) = run(&e, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["steady_states"]["after"]["steady_state_met"], true);
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("leave", "<none>")]));
    assert!(
        stderr.contains("Terminating now without running the remaining rollbacks"),
        "{stderr}"
    );
}

#[test]
fn an_exit_in_the_hypothesis_before_leaves_it_unrecorded() {
    let mut probe = leave("leaves", "gracefully");
    probe["type"] = json!("probe");
    probe["tolerance"] = json!("x");
    let e = experiment(
        json!([probe]),
        json!([quick("first")]),
        json!([quick("undo")]),
    );
    let (code, j, stderr) = run(&e, &["--rollback-strategy", "always"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["steady_states"]["before"], Value::Null);
    assert_eq!(j["run"], json!([]));
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("undo", "succeeded")]));
}

#[test]
fn controls_that_stop_the_run_before_its_method() {
    // (where, how, strategy) -> what the reference's journal has.
    struct Case {
        args: Value,
        strategy: &'static str,
        before_ran: bool,
        rollbacks: Vec<(&'static str, &'static str)>,
    }
    let cases = [
        Case {
            args: json!({"stop_at": "before_experiment"}),
            strategy: "always",
            before_ran: false,
            rollbacks: vec![("undo", "succeeded")],
        },
        Case {
            args: json!({"stop_at": "before_method"}),
            strategy: "default",
            before_ran: true,
            rollbacks: vec![],
        },
        Case {
            args: json!({"stop_at": "before_experiment", "how": "gracefully"}),
            strategy: "always",
            before_ran: false,
            rollbacks: vec![("undo", "succeeded")],
        },
        Case {
            args: json!({"stop_at": "before_method", "how": "ungracefully"}),
            strategy: "always",
            before_ran: true,
            rollbacks: vec![],
        },
    ];
    for case in cases {
        let mut e = experiment(holds(), json!([quick("first")]), json!([quick("undo")]));
        e["controls"] = control(case.args.clone());
        let (code, j, stderr) = run(&e, &["--rollback-strategy", case.strategy]);
        let what = &case.args;
        assert_eq!(code, 1, "{what}: {stderr}");
        assert_eq!(j["status"], "interrupted", "{what}");
        assert_eq!(
            j["steady_states"]["before"].is_null(),
            !case.before_ran,
            "{what}"
        );
        assert_eq!(j["run"], json!([]), "{what}: the method never started");
        assert_eq!(statuses(&j["rollbacks"]), pairs(&case.rollbacks), "{what}");
        // The reference keeps both lists, empty, in the journal.
        assert_eq!(keys(&j), KEYS, "{what}");
    }
}

#[test]
fn a_control_adds_its_own_keys_to_the_journal() {
    let mut e = experiment(holds(), json!([quick("first")]), json!([quick("undo")]));
    e["controls"] = control(json!({"count": true}));
    let (code, j, stderr) = run(&e, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(j["status"], "completed");
    assert_eq!(j["counted_activities"], 2, "{j}");
    let mut expected: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    expected.push("counted_activities".into());
    assert_eq!(keys(&j), expected, "after the reference's own keys");
}

#[test]
fn the_continuous_hypothesis_stops_with_an_exit_during_the_method() {
    let e = experiment(
        holds(),
        json!([
            call("first", "pause", json!({"seconds": 0.3})),
            leave("leave", "gracefully"),
            quick("never")
        ]),
        json!([quick("undo")]),
    );
    let (code, j, stderr) = run(
        &e,
        &[
            "--hypothesis-strategy",
            "continuously",
            "--hypothesis-frequency",
            "0.1",
            "--rollback-strategy",
            "always",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(j["steady_states"]["after"], Value::Null, "not run");
    let during = j["steady_states"]["during"].as_array().expect("during");
    assert!(!during.is_empty(), "the hypothesis ran during the method");
    assert!(
        during.iter().all(|s| s["steady_state_met"] == true),
        "every check recorded is a whole one: {during:?}"
    );
    assert_eq!(
        statuses(&j["run"]),
        pairs(&[("first", "succeeded"), ("leave", "<none>")])
    );
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("undo", "succeeded")]));
    assert!(stderr.contains("Continuous steady state hypothesis terminated"));

    // Ungracefully, during the method only: no hypothesis before or after, no rollback.
    let e = experiment(
        holds(),
        json!([
            call("first", "pause", json!({"seconds": 0.3})),
            leave("leave", "ungracefully")
        ]),
        json!([quick("undo")]),
    );
    let (code, j, stderr) = run(
        &e,
        &[
            "--hypothesis-strategy",
            "during-method-only",
            "--hypothesis-frequency",
            "0.1",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(j["steady_states"]["before"], Value::Null);
    assert_eq!(j["steady_states"]["after"], Value::Null);
    assert_eq!(j["rollbacks"], json!([]));
}

/// Runs `experiment` with `--rollback-strategy always`, sends SIGINT once its stderr
/// shows `cue`, and returns (exit code, journal, seconds from the signal to the end).
fn interrupted_at(experiment: &Value, cue: &str) -> (i32, Value, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("e.json");
    std::fs::write(&file, experiment.to_string()).expect("write");
    let journal = dir.path().join("j.json");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(bin())
        .args(["run", "--rollback-strategy", "always", "--journal-path"])
        .arg(&journal)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains(cue)) {
        assert!(Instant::now() < deadline, "never saw {cue:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal");
    let status = child.wait().expect("wait");
    let took = signalled.elapsed().as_secs_f64();
    let j =
        serde_json::from_str(&std::fs::read_to_string(&journal).expect("journal")).expect("JSON");
    (status.code().unwrap_or(-1), j, took)
}

#[test]
fn sigint_during_a_pause_in_the_rollbacks_ends_the_run_interrupted() {
    let mut long = process("long", "true", json!([]));
    long["pauses"] = json!({"after": 40});
    let e = experiment(
        json!([]),
        json!([process("first", "true", json!([]))]),
        json!([long, process("after-long", "true", json!([]))]),
    );
    let (code, j, took) = interrupted_at(&e, "Pausing after activity for 40s");
    assert_eq!(code, 1);
    assert!(took < 10.0, "the pause was cut: {took} s");
    assert_eq!(j["status"], "interrupted");
    // The pause comes after the rollback's record is complete; the rest never ran.
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("long", "succeeded")]));
    assert_eq!(statuses(&j["run"]), pairs(&[("first", "succeeded")]));
}

#[test]
fn sigint_during_a_rollbacks_process_cuts_it_and_skips_the_rest() {
    let token = format!("sleep 47.{}", std::process::id() % 1000);
    let e = experiment(
        json!([]),
        json!([process("first", "true", json!([]))]),
        json!([
            process("long", "sh", json!(["-c", token])),
            process("after-long", "true", json!([]))
        ]),
    );
    let (code, j, took) = interrupted_at(&e, "Action: long");
    assert_eq!(code, 1);
    assert!(took < 10.0, "{took} s");
    assert!(!process_alive(&token), "the rollback's process is gone");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("long", "<none>")]));
}

#[test]
fn an_interruption_before_the_rollbacks_does_not_stop_them() {
    // Ctrl-C in the method with `always`: the rollbacks all run, as in the reference.
    let mut pause = process("pause", "true", json!([]));
    pause["pauses"] = json!({"after": 0.5});
    let token = format!("sleep 43.{}", std::process::id() % 1000);
    let e = experiment(
        json!([]),
        json!([process("long", "sh", json!(["-c", token]))]),
        json!([pause, process("second", "true", json!([]))]),
    );
    let (code, j, _) = interrupted_at(&e, "Action: long");
    assert_eq!(code, 1);
    assert_eq!(j["status"], "interrupted");
    assert_eq!(
        statuses(&j["rollbacks"]),
        pairs(&[("pause", "succeeded"), ("second", "succeeded")])
    );
}

/// A background activity that asks to exit: the reference's exit is raised in the
/// thread running the method, so the foreground activity is cut, the caller itself
/// returns; gracefully, the other background activities are waited for; ungracefully,
/// they are abandoned where they are and no rollback plays.
#[test]
fn an_exit_from_a_background_activity() {
    let method = |how: &str| {
        let mut leaving = leave("leave", how);
        leaving["background"] = json!(true);
        leaving["pauses"] = json!({"before": 0.5});
        let mut companion = call("companion", "pause", json!({"seconds": 1.5}));
        companion["background"] = json!(true);
        json!([
            leaving,
            companion,
            call("long", "pause", json!({"seconds": 4}))
        ])
    };
    let e = experiment(holds(), method("gracefully"), json!([quick("undo")]));
    let started = Instant::now();
    let (code, j, stderr) = run(&e, &["--rollback-strategy", "always"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(j["status"], "interrupted");
    assert_eq!(
        statuses(&j["run"]),
        pairs(&[
            ("companion", "succeeded"),
            ("long", "<none>"),
            ("leave", "succeeded")
        ])
    );
    assert_eq!(j["run"][2]["output"], "after the exit call");
    assert_eq!(statuses(&j["rollbacks"]), pairs(&[("undo", "succeeded")]));

    let e = experiment(holds(), method("ungracefully"), json!([quick("undo")]));
    let (code, j, stderr) = run(&e, &["--rollback-strategy", "always"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(j["status"], "interrupted");
    assert_eq!(
        statuses(&j["run"]),
        pairs(&[
            ("companion", "<none>"),
            ("long", "<none>"),
            ("leave", "succeeded")
        ])
    );
    assert_eq!(j["rollbacks"], json!([]));
}
