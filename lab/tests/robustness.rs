//! The robustness rules of the local lab, one test each: no duplicates, repair of dead or
//! pid-reused state, a clear port-in-use error, Ctrl-C during `lab up`, `lab down` after
//! a crash, and services outliving the CLI.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::{Lab, alive, bin_dir_with_stuck_consumer, get, signal_group};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PROVIDER: &str = "my-provider-app";
const CONSUMER: &str = "my-consumer-app";

#[test]
fn services_outlive_the_cli_after_up() {
    let lab = Lab::new();
    let outcome = lab.up(&[]);
    // `lab up` has exited; its services keep serving.
    let url = outcome.stdout.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, body, _) = get(&url).expect("consumer answers after lab up exited");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("my-provider-app"), "{body}");
    for service in [PROVIDER, CONSUMER] {
        let pid = lab.pid(service).expect("recorded pid");
        assert!(alive(pid), "{service} (pid {pid}) died with the CLI");
    }
}

#[test]
fn up_twice_starts_no_duplicates() {
    let lab = Lab::new();
    lab.up(&[]);
    let first = (lab.pid(PROVIDER), lab.pid(CONSUMER));
    let mut before = lab.processes();
    before.sort();
    assert_eq!(
        before.len(),
        2,
        "expected exactly two services, got {before:?}"
    );

    let again = lab.run(&["up"]);
    again.expect_code(0, "second lab up");
    again.expect_stderr("my-provider-app already running");
    again.expect_stderr("my-consumer-app already running");
    assert_eq!((lab.pid(PROVIDER), lab.pid(CONSUMER)), first);
    let mut after = lab.processes();
    after.sort();
    assert_eq!(after, before, "a second `lab up` started other processes");
}

#[test]
fn a_crashed_service_is_reported_and_restarted_by_up() {
    let lab = Lab::new();
    lab.up(&[]);
    let provider = lab.pid(PROVIDER).unwrap();
    let consumer = lab.pid(CONSUMER).unwrap();
    let port = lab.port(PROVIDER).unwrap();
    // A crash from the lab's point of view: the process dies without `lab kill`.
    kill(Pid::from_raw(provider as i32), Signal::SIGKILL).unwrap();
    lab.wait_for("the provider to die", Duration::from_secs(5), |_| {
        !alive(provider)
    });

    let status = lab.run(&["status", "--check"]);
    status.expect_code(1, "status --check with a crashed provider");
    assert!(status.stdout.contains("exited"), "{}", status.stdout);
    status.expect_stderr("my-provider-app is not healthy");

    let up = lab.run(&["up"]);
    up.expect_code(0, "lab up repairing the lab");
    up.expect_stderr("is no longer running");
    let new_provider = lab.pid(PROVIDER).unwrap();
    assert_ne!(new_provider, provider);
    assert!(alive(new_provider));
    // Back on the port the consumer calls; the consumer itself was left alone.
    assert_eq!(lab.port(PROVIDER), Some(port));
    assert_eq!(lab.pid(CONSUMER), Some(consumer));
    lab.run(&["status", "--check"])
        .expect_code(0, "status --check after repair");
}

#[test]
fn a_reused_pid_is_neither_trusted_nor_killed() {
    let lab = Lab::new();
    lab.up(&[]);
    let provider = lab.pid(PROVIDER).unwrap();
    kill(Pid::from_raw(provider as i32), Signal::SIGKILL).unwrap();
    lab.wait_for("the provider to die", Duration::from_secs(5), |_| {
        !alive(provider)
    });

    // Another program now holds the pid recorded for the provider: simulate it by
    // pointing the record at an unrelated process (the start time no longer matches).
    let mut stranger = Command::new("sleep").arg("120").spawn().unwrap();
    let path = lab.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["services"][PROVIDER]["pid"] = stranger.id().into();
    std::fs::write(&path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

    let status = lab.run(&["status"]);
    assert!(
        status.stdout.contains("exited"),
        "the stranger counted as the provider:\n{}",
        status.stdout
    );
    lab.run(&["up"]).expect_code(0, "lab up with a reused pid");
    let new_provider = lab.pid(PROVIDER).unwrap();
    assert_ne!(new_provider, stranger.id());
    assert!(alive(new_provider));
    lab.run(&["down"]).expect_code(0, "lab down");
    assert!(
        alive(stranger.id()),
        "the lab killed a process that was not its own"
    );
    assert!(!alive(new_provider));
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

#[test]
fn a_port_in_use_is_named_with_the_flag_to_choose_another() {
    let lab = Lab::new();
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();

    let taken = port.to_string();
    let outcome = lab.run(&["up", "--provider-port", &taken, "--consumer-port", "0"]);
    outcome.expect_code(1, "lab up on a busy provider port");
    outcome.expect_stderr(&format!("port {port} on 127.0.0.1 is already in use"));
    outcome.expect_stderr("--provider-port");
    lab.assert_nothing_left();

    // The consumer's port busy: the provider this command started is stopped again.
    let outcome = lab.run(&["up", "--provider-port", "0", "--consumer-port", &taken]);
    outcome.expect_code(1, "lab up on a busy consumer port");
    outcome.expect_stderr("--consumer-port");
    outcome.expect_stderr("stopped the services this command had started");
    lab.assert_nothing_left();
    let state = lab.state().expect("state file");
    assert_eq!(state["services"], serde_json::json!({}), "{state}");
    // Nothing was killed: `lab status` must not say so (issue 20 §12).
    let status = lab.run(&["status"]);
    status.expect_code(0, "lab status after a failed first lab up");
    assert!(!status.stdout.contains("killed"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("no service is running (none started, or `lab kill` stopped them)"),
        "{}",
        status.stdout
    );
    drop(holder);
}

/// A `lab up` (as a terminal job) caught mid-way: both services started and recorded,
/// the consumer never getting ready. Returns the lab, the job and the two pids.
fn up_caught_midway() -> (Lab, common::Running, [u32; 2]) {
    let mut lab = Lab::new();
    lab.bin_dir = Some(bin_dir_with_stuck_consumer(lab.state_dir()));
    let job = lab.start_as_job(&[
        "up",
        "--provider-port",
        "0",
        "--consumer-port",
        "0",
        "--timeout",
        "60",
    ]);
    lab.wait_for(
        "both services to be started",
        Duration::from_secs(20),
        |lab| lab.pid(PROVIDER).is_some() && lab.pid(CONSUMER).is_some(),
    );
    let started = [lab.pid(PROVIDER).unwrap(), lab.pid(CONSUMER).unwrap()];
    (lab, job, started)
}

#[test]
fn ctrl_c_during_up_leaves_no_stray_processes() {
    let (lab, job, started) = up_caught_midway();
    assert!(started.iter().all(|pid| alive(*pid)));

    signal_group(job.pid(), Signal::SIGINT);
    let outcome = job.wait(Duration::from_secs(30));
    outcome.expect_code(130, "lab up interrupted");
    outcome.expect_stderr("interrupted");
    for pid in started {
        assert!(!alive(pid), "pid {pid} survived the Ctrl-C");
    }
    lab.assert_nothing_left();
    let state = lab.state().expect("state file");
    assert_eq!(state["services"], serde_json::json!({}), "{state}");
}

#[test]
fn down_after_a_crash_cleans_up_and_is_idempotent() {
    let (lab, job, started) = up_caught_midway();
    // The CLI crashes mid-way: no clean-up of its own.
    kill(Pid::from_raw(job.pid() as i32), Signal::SIGKILL).unwrap();
    let outcome = job.wait(Duration::from_secs(10));
    assert_eq!(outcome.code(), None, "killed by a signal");
    assert!(
        started.iter().all(|pid| alive(*pid)),
        "the services outlive the crashed CLI"
    );

    lab.run(&["down"])
        .expect_code(0, "lab down after the crash");
    for pid in started {
        assert!(!alive(pid), "pid {pid} survived lab down");
    }
    lab.assert_nothing_left();
    assert!(lab.state().is_none(), "state.json still there");
    let again = lab.run(&["down"]);
    again.expect_code(0, "second lab down");
    again.expect_stderr("nothing to stop");
}

/// An unreadable state file (edited by hand, cut short by a full disk) must not strand
/// the services: `lab down` finds them by the records the lab keeps of what it spawned
/// (`run/<service>.pid`), stops them, and keeps the file aside. A bystander that merely
/// exported the same `LAB_STATE_DIR` (a user's shell or script) is not the lab's and
/// keeps running.
#[test]
fn down_with_an_unreadable_state_stops_the_services_and_nothing_else() {
    let lab = Lab::new();
    lab.up(&[]);
    assert_eq!(lab.processes().len(), 2, "provider and consumer run");
    let mut bystander = Command::new("sleep")
        .arg("300")
        .env("LAB_STATE_DIR", lab.state_dir())
        .spawn()
        .expect("start a bystander");
    std::fs::write(lab.state_dir().join("state.json"), "{ not json").unwrap();

    let status = lab.run(&["status"]);
    status.expect_code(1, "status with an unreadable state");
    status.expect_stderr("`lab down` stops what this lab started");

    let down = lab.run(&["down"]);
    down.expect_code(0, "lab down with an unreadable state");
    down.expect_stderr("is not a valid lab state file");
    down.expect_stderr("stopped my-provider-app");
    down.expect_stderr("stopped my-consumer-app");
    lab.wait_for("the services to stop", Duration::from_secs(15), |lab| {
        lab.processes() == vec![bystander.id()]
    });
    assert!(
        alive(bystander.id()),
        "lab down stopped a process it did not start"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(lab.state_dir().join("state.json.corrupt").is_file());
    assert!(!lab.state_dir().join("state.json").exists());
    lab.up(&[]);
}

/// `lab kill` on a record whose process is not the one recorded (its pid reused) leaves
/// that process alone and says so, instead of reporting a kill.
#[test]
fn kill_of_a_stale_record_says_it_killed_nothing() {
    let lab = Lab::new();
    lab.up(&[]);
    let provider = lab.pid(PROVIDER).expect("provider pid");
    let path = lab.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Same pid, another start time: what a reused pid looks like.
    let record = &mut state["services"][PROVIDER];
    let start = record["start_time"].as_u64().expect("start_time");
    record["start_time"] = serde_json::json!(start + 1);
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();

    let kill = lab.run(&["kill", PROVIDER]);
    kill.expect_code(0, "lab kill of a stale record");
    kill.expect_stderr("was no longer running");
    assert!(!kill.stderr.contains("killed"), "{}", kill.stderr);
    assert!(
        alive(provider),
        "the process behind the stale record was left alone"
    );
}
