//! provider-app as a real process on 127.0.0.1: routes, the fault API (and who may change
//! the faults) and each fault's effect, metrics, graceful shutdown, logs, and
//! configuration errors. Malformed input of every kind is in `bad_input.rs`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use test_kit::service::{
    FAULT_TOKEN, FAULT_TOKEN_ENV, Service, Signal, assert_one_line_error, client, fault_request,
    run_to_exit,
};

const BIN: &str = env!("CARGO_BIN_EXE_provider-app");

/// A provider whose faults the tests may change (it has the test token).
async fn start(args: &[&str]) -> Service {
    Service::start(BIN, args, &[FAULT_TOKEN_ENV]).await
}

async fn get(url: &str) -> reqwest::Response {
    client(Duration::from_secs(10))
        .get(url)
        .send()
        .await
        .expect("GET")
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

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let provider = start(&[]).await;
    let (status, body) = get_json(&provider.url("/no/such/route")).await;
    assert_eq!((status, &body["error"]), (404, &json!("not found")));
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

    let res = get(&provider.url("/metrics")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for line in [
        r#"http_requests_total{route="/",status="200"} 3"#,
        r#"http_requests_total{route="/",status="500"} 1"#,
        r#"http_requests_total{route="unmatched",status="404"} 1"#,
        r#"http_requests_total{route="/faults",status="200"} 1"#,
        r#"http_request_duration_seconds_count{route="/"} 4"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

/// Sends `signal` while a slow request is in flight; the request must still be
/// answered and the process must exit 0.
async fn drains_on(signal: Signal) {
    let mut provider = start(&["--fault-latency-ms", "1500", "--instance-name", "draining"]).await;
    let url = provider.url("/");
    let in_flight =
        tokio::spawn(async move { client(Duration::from_secs(10)).get(url).send().await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    provider.signal(signal);

    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request must be answered");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("draining"));
    let status = provider
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("provider must exit");
    assert_eq!(status.code(), Some(0), "log:\n{}", provider.log());
    assert!(
        provider.log().contains("shutting down gracefully"),
        "{}",
        provider.log()
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    drains_on(Signal::SIGTERM).await;
}

#[tokio::test]
async fn sigint_drains_like_sigterm() {
    drains_on(Signal::SIGINT).await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_on_hung_requests() {
    let mut provider = start(&["--fault-hang", "--shutdown-timeout-secs", "1"]).await;
    let url = provider.url("/");
    let hung = tokio::spawn(async move { client(Duration::from_secs(20)).get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    provider.terminate();
    let status = provider
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("must exit despite the hung request");
    assert_eq!(status.code(), Some(0), "log:\n{}", provider.log());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "exit took {:?}",
        started.elapsed()
    );
    assert!(
        hung.await.unwrap().is_err(),
        "a hung request gets no answer, only a closed connection"
    );
}

#[tokio::test]
async fn json_log_format_writes_one_json_object_per_line() {
    let provider = start(&["--log-format", "json", "--instance-name", "json-logs"]).await;
    get(&provider.url("/")).await;
    let log = provider.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(log.contains("provider-app listening"), "{log}");
}

#[test]
fn bad_configuration_exits_with_one_line_naming_flag_and_value() {
    let budget = Duration::from_secs(10);
    let out = run_to_exit(BIN, &["--fault-error-rate", "1.5"], &[], budget);
    assert_one_line_error(&out, &["--fault-error-rate", "FAULT_ERROR_RATE", "'1.5'"]);

    let out = run_to_exit(BIN, &[], &[("FAULT_LATENCY_MS", "soon")], budget);
    assert_one_line_error(&out, &["--fault-latency-ms", "FAULT_LATENCY_MS", "'soon'"]);

    let out = run_to_exit(BIN, &["--bind", "localhost"], &[], budget);
    assert_one_line_error(&out, &["--bind", "BIND", "'localhost'"]);

    let out = run_to_exit(BIN, &["--port", "-1"], &[], budget);
    assert_one_line_error(&out, &["--port"]);

    let out = run_to_exit(BIN, &["--log-format", "xml"], &[], budget);
    assert_one_line_error(&out, &["--log-format", "LOG_FORMAT", "'xml'"]);

    // The token is a secret: named, never repeated.
    let out = run_to_exit(BIN, &[], &[("FAULT_API_TOKEN", "two words")], budget);
    let line = assert_one_line_error(&out, &["--fault-token", "FAULT_API_TOKEN", "visible ASCII"]);
    assert!(!line.contains("two words"), "{line}");
}

#[test]
fn port_in_use_exits_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run_to_exit(BIN, &["--bind", &addr], &[], Duration::from_secs(10));
    assert_one_line_error(&out, &["--bind", &addr, "in use"]);
}

#[tokio::test]
async fn malformed_http_gets_400_not_a_crash() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let provider = start(&[]).await;
    let mut stream = tokio::net::TcpStream::connect(&provider.addr)
        .await
        .unwrap();
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer to a malformed request");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(get(&provider.url("/")).await.status(), 200, "still serving");
}
