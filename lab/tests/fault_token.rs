//! Who may change the provider's faults in a local lab: the token `lab up` gives the
//! provider, `lab fault-token` prints it, repairs keep it, and the lab's experiment that
//! changes faults works with it (and only with it).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::{Lab, Running};

const PROVIDER: &str = "my-provider-app";

/// `PUT /faults` on the lab's provider with `token` (if any): the status.
fn put_faults(lab: &Lab, token: Option<&str>, body: &str) -> u16 {
    test_kit::service::install_tls_provider();
    let port = lab.port(PROVIDER).expect("the provider's port");
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let mut request = client
        .put(format!("http://127.0.0.1:{port}/faults"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().expect("PUT /faults").status().as_u16()
}

fn fault_token(lab: &Lab) -> String {
    let out = lab.run(&["fault-token"]);
    out.expect_code(0, "lab fault-token");
    out.stdout.trim().to_string()
}

#[test]
fn up_gives_the_provider_a_token_that_only_lab_users_know() {
    let lab = Lab::new();
    let before_up = lab.run(&["fault-token"]);
    before_up.expect_code(1, "lab fault-token before any lab up");
    before_up.expect_stderr("`lab up` makes one");

    lab.up(&[]);
    let token = fault_token(&lab);
    assert_eq!(token.len(), 32, "{token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token:?}");
    let file = lab.state_dir().join("fault-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is the user's only");

    assert_eq!(
        put_faults(&lab, None, r#"{"error_rate": 1}"#),
        401,
        "no token"
    );
    assert_eq!(put_faults(&lab, Some("0123"), r#"{"error_rate": 1}"#), 401);
    assert_eq!(put_faults(&lab, Some(&token), r#"{"latency": null}"#), 200);

    // A repair restarts the killed provider with the same token.
    let provider = lab.pid(PROVIDER).unwrap();
    lab.run(&["kill", PROVIDER]).expect_code(0, "lab kill");
    lab.up(&[]);
    assert_ne!(lab.pid(PROVIDER), Some(provider), "a new provider process");
    assert_eq!(fault_token(&lab), token);
    assert_eq!(put_faults(&lab, Some(&token), r#"{"latency": null}"#), 200);
    assert_eq!(put_faults(&lab, None, r#"{"hang": true}"#), 401);

    // The token is not on any command line (`ps` shows those to every user).
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", lab.pid(PROVIDER).unwrap()))
        .expect("the provider's command line");
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(&token),
        "token passed as an argument"
    );

    // `lab down` keeps it, so a shell that exported it keeps working after `lab up`.
    lab.run(&["down"]).expect_code(0, "lab down");
    lab.up(&[]);
    assert_eq!(fault_token(&lab), token);
    assert_eq!(put_faults(&lab, Some(&token), r#"{"latency": null}"#), 200);
}

/// `chaos-runner run experiments/slow-provider.json` against the lab, with `token` as
/// FAULT_API_TOKEN when given.
fn run_slow_provider(lab: &Lab, token: Option<&str>) -> common::Outcome {
    let runner = test_kit::repo::binary("chaos-runner");
    let work = tempfile::tempdir().expect("temp dir");
    let experiment = test_kit::repo::root().join("experiments/slow-provider.json");
    let consumer = lab.run(&["address"]).stdout.trim().to_string();
    let provider = format!("http://127.0.0.1:{}", lab.port(PROVIDER).unwrap());
    let mut command = Command::new(runner);
    command
        .args(["run", "--rollback-strategy", "always", "--journal-path"])
        .arg(work.path().join("journal.json"))
        .arg(&experiment)
        .current_dir(work.path())
        .env("CONSUMER_URL", consumer)
        .env("PROVIDER_URL", provider)
        .env_remove("FAULT_API_TOKEN");
    if let Some(token) = token {
        command.env("FAULT_API_TOKEN", token);
    }
    let outcome = Running::start(&mut command).wait(Duration::from_secs(60));
    if token.is_some() {
        let journal = std::fs::read_to_string(work.path().join("journal.json")).unwrap();
        assert!(
            !journal.contains(token.unwrap_or_default()),
            "the journal must not hold the token"
        );
    }
    outcome
}

fn no_fault_left(lab: &Lab) {
    let port = lab.port(PROVIDER).unwrap();
    let (status, body, _) = common::get(&format!("http://127.0.0.1:{port}/faults")).unwrap();
    assert_eq!(status, 200);
    let faults: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        faults["hang"], false,
        "the rollback lifted the hang: {body}"
    );
}

#[test]
fn the_slow_provider_experiment_needs_the_token_and_then_tells_before_from_after() {
    let lab = Lab::new();
    lab.up(&[]);
    let token = fault_token(&lab);

    // Without the token the run stops before it starts, naming the variable.
    let missing = run_slow_provider(&lab, None);
    assert_ne!(missing.code(), Some(0));
    assert!(
        format!("{}{}", missing.stdout, missing.stderr).contains("FAULT_API_TOKEN"),
        "{}\n{}",
        missing.stdout,
        missing.stderr
    );
    no_fault_left(&lab);

    // The before consumer waits on the hanging provider: deviated (exit 1).
    let before = run_slow_provider(&lab, Some(&token));
    before.expect_code(1, "slow-provider against the before system");
    assert!(before.stderr.contains("deviated"), "{}", before.stderr);
    no_fault_left(&lab);

    // The after consumer answers with its fallback in time: completed.
    lab.run(&["fix"]).expect_code(0, "lab fix");
    let after = run_slow_provider(&lab, Some(&token));
    after.expect_code(0, "slow-provider against the after system");
    no_fault_left(&lab);
}
