//! provider-app as a real process on 127.0.0.1: routes, the fault API (and who may change
//! the faults) and each fault's effect, metrics, and configuration errors of its own
//! flags. Malformed input of every kind is in `bad_input.rs`; what every service built
//! on service-common does (shared flags, 404s, malformed HTTP, JSON logs, the drain) is
//! tested in service-common/tests/server.rs, with a smoke check here.

use super::BIN;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use test_kit::service::{
    FAULT_TOKEN, FAULT_TOKEN_ENV, Service, Signal, assert_drains_on, assert_has_lines,
    assert_one_line_error, assert_takes_the_shared_serve_flags, client, fault_request, get,
    metrics_text, run_to_exit,
};

/// A provider whose faults the tests may change (it has the test token).
async fn start(args: &[&str]) -> Service {
    Service::start(BIN, args, &[FAULT_TOKEN_ENV]).await
}

async fn get_json(url: &str) -> (u16, Value) {
    let res = get(url).await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

/// `PUT /faults` with the test token.
async fn put_faults(provider: &Service, body: &str) -> (u16, Value) {
    fault_request(
        &provider.url(""),
        Method::PUT,
        Some(FAULT_TOKEN),
        Some(body),
    )
    .await
}

/// `DELETE /faults` with the test token, asserting it answers 200.
async fn delete_faults(provider: &Service) {
    let (status, body) =
        fault_request(&provider.url(""), Method::DELETE, Some(FAULT_TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
}

fn no_faults() -> Value {
    json!({"latency": null, "error_rate": 0.0, "hang": false, "affect_health": false})
}

#[tokio::test]
async fn greeting_names_the_instance() {
    let provider = start(&["--instance-name", "my-provider-app-7d9f"]).await;
    let res = get(&provider.url("/")).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("my-provider-app-7d9f"), "{body}");
    assert!(body.contains("Greetings"), "{body}");

    let from_env = Service::start(BIN, &[], &[("POD_NAME", "pod-from-env")]).await;
    let body = get(&from_env.url("/")).await.text().await.unwrap();
    assert!(body.contains("pod-from-env"), "{body}");
}

#[tokio::test]
async fn health_endpoints_answer_up() {
    let provider = start(&[]).await;
    for path in ["/health/live", "/health/ready", "/actuator/health"] {
        assert_eq!(
            get_json(&provider.url(path)).await,
            (200, json!({"status": "UP"})),
            "{path}"
        );
    }
}

/// `FAULT_API_TOKEN=` (empty) counts as unset, as docs/contracts.md says (issue 20 §9):
/// the provider starts with a read-only fault API. `--fault-token ""` stays an error.
#[tokio::test]
async fn an_empty_token_variable_counts_as_unset() {
    let provider = Service::start(BIN, &[], &[("FAULT_API_TOKEN", "")]).await;
    let (status, answer) = fault_request(
        &provider.url(""),
        Method::PUT,
        Some(""),
        Some(r#"{"hang": true}"#),
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(get_json(&provider.url("/faults")).await, (200, no_faults()));
    let out = run_to_exit(BIN, &["--fault-token", ""], &[], Duration::from_secs(10));
    assert_one_line_error(&out, &["--fault-token", "visible ASCII"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Without `--fault-token` nobody may change the faults: 403 saying how to allow it.
/// Reading them stays open.
#[tokio::test]
async fn without_a_token_the_fault_api_only_reads() {
    let provider = Service::start(BIN, &[], &[]).await;
    let base = provider.url("");
    for (method, token, body) in [
        (Method::PUT, None, Some(r#"{"hang": true}"#)),
        (Method::PUT, Some("guess"), Some(r#"{"hang": true}"#)),
        (Method::DELETE, None, None),
        (Method::DELETE, Some(FAULT_TOKEN), None),
    ] {
        let (status, answer) = fault_request(&base, method.clone(), token, body).await;
        assert_eq!(status, 403, "{method} {token:?}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("--fault-token") && error.contains("FAULT_API_TOKEN"),
            "{answer}"
        );
    }
    assert_eq!(get_json(&provider.url("/faults")).await, (200, no_faults()));
    assert_eq!(
        get(&provider.url("/")).await.status(),
        200,
        "no fault took effect"
    );
    assert!(
        provider.log().contains("fault change refused"),
        "{}",
        provider.log()
    );
}

/// With a token, a change needs exactly `Authorization: Bearer <token>`; anything else
/// is 401 with `WWW-Authenticate: Bearer`, checked before the body is read.
#[tokio::test]
async fn with_a_token_only_its_bearer_may_change_faults() {
    let provider = start(&[]).await;
    let base = provider.url("");
    let hang = Some(r#"{"hang": true}"#);
    let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(1 << 20));
    let wrong_token = format!("{FAULT_TOKEN}x");
    for (method, token, body) in [
        (Method::PUT, None, hang),
        (Method::PUT, Some("wrong"), hang),
        (
            Method::PUT,
            Some(&FAULT_TOKEN[..FAULT_TOKEN.len() - 1]),
            hang,
        ),
        (Method::PUT, Some(wrong_token.as_str()), hang),
        (Method::PUT, None, Some(huge.as_str())),
        (Method::PUT, None, Some("{not json")),
        (Method::DELETE, None, None),
        (Method::DELETE, Some("wrong"), None),
    ] {
        let (status, answer) = fault_request(&base, method.clone(), token, body).await;
        assert_eq!(status, 401, "{method} {token:?}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains("Authorization: Bearer"),
            "{answer}"
        );
    }
    let res = client(Duration::from_secs(10))
        .put(provider.url("/faults"))
        .header("authorization", format!("Basic {FAULT_TOKEN}"))
        .header("content-type", "application/json")
        .body(r#"{"hang": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "another scheme");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"),
        "{:?}",
        res.headers()
    );
    assert_eq!(get_json(&provider.url("/faults")).await, (200, no_faults()));
    assert_eq!(
        get(&provider.url("/")).await.status(),
        200,
        "no fault took effect"
    );

    // The right token: the change is made and takes effect, and the token lifts it.
    let (status, answer) = put_faults(&provider, r#"{"error_rate": 1.0}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(get(&provider.url("/")).await.status(), 500);
    delete_faults(&provider).await;
    assert_eq!(get(&provider.url("/")).await.status(), 200);
}

/// Faults from start flags are the operator's own: they need no token.
#[tokio::test]
async fn start_flag_faults_work_without_a_token() {
    let provider = Service::start(BIN, &["--fault-error-rate", "1"], &[]).await;
    assert_eq!(get(&provider.url("/")).await.status(), 500);
    let (status, _) = fault_request(&provider.url(""), Method::DELETE, None, None).await;
    assert_eq!(status, 403, "and a stranger cannot lift them");
    assert_eq!(get(&provider.url("/")).await.status(), 500);
}

#[tokio::test]
async fn fault_api_round_trip() {
    let provider = start(&[]).await;
    assert_eq!(get_json(&provider.url("/faults")).await, (200, no_faults()));

    let wanted = json!({"latency": {"min_ms": 100, "max_ms": 300}, "error_rate": 0.25, "hang": false, "affect_health": true});
    let (status, echoed) = put_faults(&provider, &wanted.to_string()).await;
    assert_eq!((status, &echoed), (200, &wanted));
    assert_eq!(get_json(&provider.url("/faults")).await, (200, wanted));

    // PUT replaces: omitted fields go back to their defaults.
    let (status, _) = put_faults(&provider, r#"{"error_rate": 0.5}"#).await;
    assert_eq!(status, 200);
    let mut expected = no_faults();
    expected["error_rate"] = json!(0.5);
    assert_eq!(get_json(&provider.url("/faults")).await, (200, expected));

    delete_faults(&provider).await;
    assert_eq!(get_json(&provider.url("/faults")).await, (200, no_faults()));
}

#[tokio::test]
async fn start_flags_and_env_set_the_initial_faults() {
    let provider = Service::start(
        BIN,
        &["--fault-latency-ms", "50-60", "--fault-affect-health"],
        &[("FAULT_ERROR_RATE", "1")],
    )
    .await;
    let expected = json!({"latency": {"min_ms": 50, "max_ms": 60}, "error_rate": 1.0, "hang": false, "affect_health": true});
    assert_eq!(get_json(&provider.url("/faults")).await, (200, expected));
    assert_eq!(get(&provider.url("/")).await.status(), 500);
}

#[tokio::test]
async fn latency_fault_delays_answers_but_not_health() {
    let provider = start(&[]).await;
    put_faults(&provider, r#"{"latency": {"min_ms": 400, "max_ms": 500}}"#).await;

    let started = Instant::now();
    let res = get(&provider.url("/")).await;
    let waited = started.elapsed();
    assert_eq!(res.status(), 200);
    assert!(
        waited >= Duration::from_millis(400),
        "greeting took only {waited:?}"
    );

    let started = Instant::now();
    assert_eq!(get(&provider.url("/health/ready")).await.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_millis(390),
        "health took {waited:?}: latency leaked into it"
    );
}

#[tokio::test]
async fn error_rate_fault_answers_500_with_that_probability() {
    let provider = start(&[]).await;
    put_faults(&provider, r#"{"error_rate": 1.0}"#).await;
    for _ in 0..5 {
        assert_eq!(get(&provider.url("/")).await.status(), 500);
    }
    assert_eq!(
        get(&provider.url("/health/live")).await.status(),
        200,
        "health must be spared"
    );

    put_faults(&provider, r#"{"error_rate": 1.0, "affect_health": true}"#).await;
    assert_eq!(get(&provider.url("/health/live")).await.status(), 500);

    // Half the answers fail: 200 tries all landing on one side has odds of 2^-199.
    put_faults(&provider, r#"{"error_rate": 0.5}"#).await;
    let mut failures = 0;
    for _ in 0..200 {
        if get(&provider.url("/")).await.status() == 500 {
            failures += 1;
        }
    }
    assert!(
        (20..=180).contains(&failures),
        "{failures} of 200 failed with error_rate 0.5"
    );
}

#[tokio::test]
async fn hang_fault_never_answers_until_reset() {
    let provider = start(&[]).await;
    put_faults(&provider, r#"{"hang": true}"#).await;

    let err = client(Duration::from_millis(1500))
        .get(provider.url("/"))
        .send()
        .await
        .expect_err("a hanging provider must not answer");
    assert!(err.is_timeout(), "{err}");

    // Health, metrics and the fault API keep working, so the hang can be lifted.
    assert_eq!(get(&provider.url("/health/ready")).await.status(), 200);
    assert_eq!(get(&provider.url("/metrics")).await.status(), 200);
    delete_faults(&provider).await;
    assert_eq!(get(&provider.url("/")).await.status(), 200);
}

/// Clients that give up on a hanging provider must not leave their connections behind
/// (each held a file descriptor until the process ran out), and clearing the fault
/// answers every request still waiting.
#[tokio::test]
async fn hung_requests_end_when_their_client_leaves_or_the_hang_is_cleared() {
    let provider = start(&["--fault-hang"]).await;
    let fds = || test_kit::process::open_fds(provider.pid());
    let baseline = fds();

    test_kit::service::abandon_requests(&provider.addr, "/", 100);
    test_kit::service::eventually(
        "the abandoned requests' connections are closed",
        Duration::from_secs(10),
        || fds() <= baseline + 5,
        || format!("{} fds open, {baseline} before", fds()),
    )
    .await;

    // Requests whose clients still wait are answered once the hang is lifted.
    let waiting: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(
                client(Duration::from_secs(30))
                    .get(provider.url("/"))
                    .send(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "nothing answers while hanging"
    );
    delete_faults(&provider).await;
    for request in waiting {
        let answer = tokio::time::timeout(Duration::from_secs(5), request)
            .await
            .expect("answered soon after the hang was cleared")
            .expect("the request task")
            .expect("an answer");
        assert_eq!(answer.status(), 200);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let provider = start(&[]).await;
    for _ in 0..3 {
        get(&provider.url("/")).await;
    }
    get(&provider.url("/nowhere")).await;
    put_faults(&provider, r#"{"error_rate": 1.0}"#).await;
    get(&provider.url("/")).await;

    assert_has_lines(
        &metrics_text(&provider).await,
        &[
            r#"http_requests_total{route="/",status="200"} 3"#,
            r#"http_requests_total{route="/",status="500"} 1"#,
            r#"http_requests_total{route="unmatched",status="404"} 1"#,
            r#"http_requests_total{route="/faults",status="200"} 1"#,
            r#"http_request_duration_seconds_count{route="/"} 4"#,
        ],
    );
}

/// The drain is service-common's (tested there, SIGINT and the hung-request cut too):
/// a smoke check that the provider serves through it.
#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let mut provider = start(&["--fault-latency-ms", "1500", "--instance-name", "draining"]).await;
    assert_drains_on(&mut provider, Signal::SIGTERM, "/", "draining").await;
}

/// JSON lines are service-common's (tested there); the provider's own start-up line
/// is one of them.
#[tokio::test]
async fn json_log_format_writes_the_listening_line_as_json() {
    let provider = start(&["--log-format", "json", "--instance-name", "json-logs"]).await;
    let log = provider.log();
    let line = log
        .lines()
        .find(|l| l.contains("provider-app listening"))
        .unwrap_or_else(|| panic!("no listening line in:\n{log}"));
    let value: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert!(value.get("level").is_some(), "{line}");
    assert!(line.contains("json-logs"), "{line}");
}

#[test]
fn bad_configuration_exits_with_one_line_naming_flag_and_value() {
    let budget = Duration::from_secs(10);
    let out = run_to_exit(BIN, &["--fault-error-rate", "1.5"], &[], budget);
    assert_one_line_error(&out, &["--fault-error-rate", "FAULT_ERROR_RATE", "'1.5'"]);

    let out = run_to_exit(BIN, &[], &[("FAULT_LATENCY_MS", "soon")], budget);
    assert_one_line_error(&out, &["--fault-latency-ms", "FAULT_LATENCY_MS", "'soon'"]);

    // The token is a secret: named, never repeated.
    let out = run_to_exit(BIN, &[], &[("FAULT_API_TOKEN", "two words")], budget);
    let line = assert_one_line_error(&out, &["--fault-token", "FAULT_API_TOKEN", "visible ASCII"]);
    assert!(!line.contains("two words"), "{line}");
}

/// The shared serve flags are service-common's (every case is in
/// service-common/tests/server.rs): a smoke check that this service takes them.
#[test]
fn the_shared_serve_flags_apply() {
    assert_takes_the_shared_serve_flags(BIN);
}
