//! The lab's commands on the local target, with the real services.

mod common;

use std::time::Duration;

use common::{Lab, alive, get};

const PROVIDER: &str = "my-provider-app";
const CONSUMER: &str = "my-consumer-app";

#[test]
fn kill_fix_break_and_up_tell_the_story_by_hand() {
    let lab = Lab::new();
    lab.up(&[]);
    let url = lab.run(&["address"]).stdout.trim().to_string();
    let consumer_port = lab.port(CONSUMER).unwrap();
    assert_eq!(
        url,
        format!("http://127.0.0.1:{consumer_port}/invokeConsumedService")
    );
    let provider_port = lab.port(PROVIDER).unwrap();

    // Kill the provider: gone from the lab, and the naive consumer fails with it.
    let provider = lab.pid(PROVIDER).unwrap();
    let killed = lab.run(&["kill", PROVIDER]);
    killed.expect_code(0, "lab kill");
    assert!(!alive(provider), "the provider survived lab kill");
    assert_eq!(
        lab.pid(PROVIDER),
        None,
        "a killed service stays in the state"
    );
    let check = lab.run(&["status", "--check"]);
    check.expect_code(0, "status --check: a killed service does not count");
    assert!(!check.stdout.contains(PROVIDER), "{}", check.stdout);
    let (status, body, headers) = get(&url).unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("provider call failed"), "{body}");
    assert!(
        headers
            .iter()
            .any(|h| h == "content-type: application/json"),
        "{headers:?}"
    );

    // Fix: the consumer restarts with resilience on, same port; the provider stays dead.
    let consumer = lab.pid(CONSUMER).unwrap();
    lab.run(&["fix"]).expect_code(0, "lab fix");
    assert_ne!(lab.pid(CONSUMER), Some(consumer));
    assert!(!alive(consumer));
    assert_eq!(lab.port(CONSUMER), Some(consumer_port));
    assert_eq!(lab.pid(PROVIDER), None);
    let (status, body, headers) = get(&url).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.iter().any(|h| h == "x-fallback: true"),
        "{headers:?}"
    );
    let table = lab.run(&["status"]).stdout;
    assert!(table.contains("after"), "{table}");

    // Break: the naive consumer again.
    lab.run(&["break"]).expect_code(0, "lab break");
    assert_eq!(get(&url).unwrap().0, 500);
    assert!(lab.run(&["status"]).stdout.contains("before"));

    // Up brings the provider back on its old port; the consumer answers normally.
    lab.run(&["up"]).expect_code(0, "lab up after kill");
    assert_eq!(lab.port(PROVIDER), Some(provider_port));
    let (status, body, _) = get(&url).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(PROVIDER), "{body}");

    // Killing what is not running is an error that says so.
    lab.run(&["kill", PROVIDER]).expect_code(0, "lab kill");
    let again = lab.run(&["kill", PROVIDER]);
    again.expect_code(1, "lab kill twice");
    again.expect_stderr("my-provider-app is not running");
}

#[test]
fn status_shows_every_column_and_the_circuit() {
    let lab = Lab::new();
    lab.up(&["--mode", "after"]);
    let status = lab.run(&["status"]);
    status.expect_code(0, "lab status");
    let provider_pid = lab.pid(PROVIDER).unwrap().to_string();
    let consumer_port = lab.port(CONSUMER).unwrap().to_string();
    let consumer_line = status
        .stdout
        .lines()
        .find(|line| line.contains(CONSUMER))
        .expect("consumer row");
    for cell in [consumer_port.as_str(), "ready", "after", "closed"] {
        assert!(
            consumer_line.contains(cell),
            "{cell} missing: {consumer_line}"
        );
    }
    assert!(status.stdout.contains(&provider_pid), "{}", status.stdout);
    for header in ["NAME", "PID", "PORT", "HEALTH", "MODE", "CIRCUIT"] {
        assert!(status.stdout.contains(header), "{}", status.stdout);
    }
}

#[test]
fn commands_without_a_lab_say_how_to_start_one() {
    let lab = Lab::new();
    for args in [&["address"][..], &["kill", PROVIDER], &["fix"]] {
        let outcome = lab.run(args);
        outcome.expect_code(1, &args.join(" "));
        assert!(
            outcome.stderr.contains("no lab is running"),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("lab up"),
            "{args:?}: {}",
            outcome.stderr
        );
    }
    lab.run(&["status", "--check"])
        .expect_code(1, "status --check without a lab");
    lab.run(&["status"]).expect_code(0, "status without a lab");
}

#[test]
fn bad_input_is_a_one_line_error() {
    let lab = Lab::new();
    let unknown = lab.run(&["kill", "provider"]);
    unknown.expect_code(2, "unknown service");
    unknown.expect_stderr("my-provider-app, fault-proxy, my-consumer-app");
    let k8s = lab.run(&["demo", "--target", "cluster"]);
    k8s.expect_code(1, "demo on a Kubernetes target");
    assert_eq!(k8s.stderr.trim().lines().count(), 1, "{}", k8s.stderr);
    k8s.expect_stderr("`lab demo` runs on the local target only");
    let corrupt = lab.state_dir().join("state.json");
    std::fs::write(&corrupt, "{").unwrap();
    let outcome = lab.run(&["status"]);
    outcome.expect_code(1, "corrupt state");
    outcome.expect_stderr("is not a valid lab state file");
    std::fs::remove_file(corrupt).unwrap();
}

#[test]
fn logs_print_and_follow_until_the_service_is_killed() {
    let lab = Lab::new();
    lab.up(&[]);
    let logs = lab.run(&["logs", PROVIDER]);
    logs.expect_code(0, "lab logs");
    assert!(
        logs.stdout.contains("---- lab: starting my-provider-app"),
        "{}",
        logs.stdout
    );

    let follow = common::Running::start(&mut lab.command(&["logs", "--follow", CONSUMER]));
    std::thread::sleep(Duration::from_millis(300));
    assert!(follow.child.id() > 0);
    lab.run(&["kill", CONSUMER])
        .expect_code(0, "kill the consumer");
    let outcome = follow.wait(Duration::from_secs(15));
    outcome.expect_code(0, "logs --follow ends with the service");
    assert!(
        outcome
            .stdout
            .contains("---- lab: starting my-consumer-app"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn missing_service_binaries_are_named_with_how_to_build_them() {
    let mut lab = Lab::new();
    let empty = lab.state_dir().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    lab.bin_dir = Some(empty.clone());
    let outcome = lab.run(&["up", "--provider-port", "0", "--consumer-port", "0"]);
    outcome.expect_code(1, "lab up without binaries");
    outcome.expect_stderr(&format!("provider-app not found in {}", empty.display()));
    outcome.expect_stderr("cargo build --release --workspace --bins");
    lab.assert_nothing_left();
}

/// A bin dir `<state>/target/debug` with no binaries, and a stand-in `cargo` that records
/// how it was called and "builds" by linking the real binaries in (or fails, with
/// `fail`). Returns the lab command's outcome and the record.
fn up_with_stand_in_cargo(lab: &mut Lab, fail: bool) -> (common::Outcome, String) {
    let target = lab.state_dir().join("target");
    let debug = target.join("debug");
    std::fs::create_dir_all(&debug).unwrap();
    lab.bin_dir = Some(debug);
    let record = lab.state_dir().join("cargo-calls");
    let cargo = lab.state_dir().join("cargo");
    let build = if fail {
        "echo 'error: could not compile `provider-app`' >&2; exit 101".to_string()
    } else {
        format!(
            r#"while [ $# -gt 0 ]; do
  if [ "$1" = -p ]; then ln -s "{real}/$2" "$CARGO_TARGET_DIR/debug/$2"; shift; fi
  shift
done"#,
            real = common::bin_dir().display()
        )
    };
    common::write_script(
        &cargo,
        &format!(
            "echo \"$CARGO_TARGET_DIR $*\" >> '{}'\n{build}",
            record.display()
        ),
    );
    let mut command = lab.command(&["up", "--provider-port", "0", "--consumer-port", "0"]);
    command.env("CARGO", &cargo);
    let outcome = common::Running::start(&mut command).wait(Duration::from_secs(60));
    let calls = std::fs::read_to_string(&record).unwrap_or_default();
    (outcome, calls)
}

#[test]
fn missing_service_binaries_are_built_with_cargo_then_started() {
    let mut lab = Lab::new();
    let (outcome, calls) = up_with_stand_in_cargo(&mut lab, false);
    outcome.expect_code(0, "lab up building the binaries");
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../Cargo.toml")
        .display()
        .to_string();
    let target = lab.state_dir().join("target").display().to_string();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            format!("{target} build --manifest-path {manifest} -p provider-app"),
            format!("{target} build --manifest-path {manifest} -p consumer-app"),
        ],
        "a debug bin dir gets a debug build into its own target dir"
    );
    assert!(
        outcome
            .stderr
            .contains("provider-app not built yet; building with cargo"),
        "{}",
        outcome.stderr
    );
    for service in [PROVIDER, CONSUMER] {
        let pid = lab.pid(service).expect("started");
        assert!(alive(pid), "{service} runs");
    }
}

#[test]
fn a_failed_build_of_missing_binaries_is_reported_and_starts_nothing() {
    let mut lab = Lab::new();
    let (outcome, calls) = up_with_stand_in_cargo(&mut lab, true);
    outcome.expect_code(1, "lab up with a failing build");
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(
        outcome.stderr.contains("could not compile `provider-app`"),
        "cargo's own output is shown: {}",
        outcome.stderr
    );
    outcome.expect_stderr("building provider-app with cargo failed");
    lab.assert_nothing_left();
}

#[test]
fn a_service_that_never_gets_ready_times_out_pointing_at_its_log() {
    let mut lab = Lab::new();
    lab.bin_dir = Some(common::bin_dir_with_stuck_consumer(lab.state_dir()));
    let outcome = lab.run(&[
        "up",
        "--provider-port",
        "0",
        "--consumer-port",
        "0",
        "--timeout",
        "1",
    ]);
    outcome.expect_code(1, "lab up with a consumer that never gets ready");
    outcome.expect_stderr("my-consumer-app was not ready within 1 s");
    let log = lab.state_dir().join("logs/my-consumer-app.log");
    outcome.expect_stderr(&log.display().to_string());
    // Nothing half-started stays behind, the provider included.
    lab.assert_nothing_left();
}

#[test]
fn a_service_that_exits_while_starting_shows_its_log() {
    let mut lab = Lab::new();
    let bin = lab.state_dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(
        common::bin_dir().join("provider-app"),
        bin.join("provider-app"),
    )
    .unwrap();
    common::write_script(
        &bin.join("consumer-app"),
        "echo 'consumer-app: cannot reach the database of doom' >&2; exit 3",
    );
    lab.bin_dir = Some(bin);
    let outcome = lab.run(&["up", "--provider-port", "0", "--consumer-port", "0"]);
    outcome.expect_code(1, "lab up with a consumer that exits");
    outcome.expect_stderr("my-consumer-app exited with exit status: 3 while starting");
    outcome.expect_stderr("cannot reach the database of doom");
    lab.assert_nothing_left();
}
