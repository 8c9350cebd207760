//! Everything malformed or out of range a user can hand provider-app: its own flags, their
//! environment variables, and `/faults` bodies. Each case is one row: a configuration
//! error is one stderr line naming the flag (exit 2), a body error a 4xx naming what is
//! wrong; nothing panics, and nothing changes the faults.

use super::BIN;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use test_kit::service::{
    BadValues, FAULT_TOKEN, FAULT_TOKEN_ENV, Service, assert_bad_env, assert_bad_flags,
    assert_one_line_error, client, fault_request, run_to_exit,
};

/// A flag of provider-app's own: `(flag, values, what the error line must also say)`.
/// The shared serve flags (`--bind`, `--port`, ...) are service-common's, tested in
/// service-common/tests/server.rs; service.rs's `the_shared_serve_flags_apply` checks they are used.
const BAD_FLAGS: BadValues = &[
    ("--fault-latency-ms", &["300-100"], "must not exceed"),
    ("--fault-latency-ms", &["3600001"], "latency above"),
    (
        "--fault-latency-ms",
        &["0-99999999999999999999", "-5", "1-2-3", "soon", ""],
        "N or N-M",
    ),
    (
        "--fault-error-rate",
        &["1.5", "-0.1", "NaN", "inf", "half"],
        "between 0 and 1",
    ),
    (
        "--fault-token",
        &["", "two words", "tab\tinside"],
        "visible ASCII",
    ),
];

/// The same through the environment: `(variable, values, flag)`.
const BAD_ENV: BadValues = &[
    ("FAULT_LATENCY_MS", &["9-1"], "--fault-latency-ms"),
    ("FAULT_ERROR_RATE", &["NaN"], "--fault-error-rate"),
    ("FAULT_API_TOKEN", &["not a token"], "--fault-token"),
];

const BUDGET: Duration = Duration::from_secs(10);

#[test]
fn every_bad_flag_is_one_line_naming_it_and_exit_2() {
    let lines = assert_bad_flags(BIN, BAD_FLAGS);
    let given = BAD_FLAGS
        .iter()
        .flat_map(|(flag, values, _)| values.iter().map(move |value| (*flag, *value)));
    for ((flag, value), line) in given.zip(&lines) {
        if flag == "--fault-token" && !value.is_empty() {
            assert!(!line.contains(value), "a token is never repeated: {line}");
        }
    }
    let out = run_to_exit(BIN, &["--fault-token", &"x".repeat(257)], &[], BUDGET);
    let line = assert_one_line_error(&out, &["--fault-token", "1 to 256"]);
    assert!(line.len() < 200, "{line}");
}

#[test]
fn every_bad_env_value_is_one_line_naming_flag_and_variable() {
    assert_bad_env(BIN, BAD_ENV);
}

/// A `/faults` body: `(content type, body, status, what the error must say)`.
const BAD_BODIES: &[(Option<&str>, &str, u16, &str)] = &[
    (
        Some("text/plain"),
        r#"{"hang": true}"#,
        415,
        "application/json",
    ),
    (None, r#"{"hang": true}"#, 415, "application/json"),
    (Some("application/json"), "{not json", 400, ""),
    (Some("application/json"), "", 400, ""),
    (Some("application/json"), "null", 400, ""),
    (Some("application/json"), "42", 400, ""),
    (Some("application/json"), r#""hang""#, 400, ""),
    (
        Some("application/json"),
        "[null, 1.0, true, false]",
        400,
        "",
    ),
    (
        Some("application/json"),
        r#"{"error-rate": 1}"#,
        400,
        "unknown field `error-rate`",
    ),
    (
        Some("application/json"),
        r#"{"error_rate": "high"}"#,
        400,
        "field `error_rate`",
    ),
    (
        Some("application/json"),
        r#"{"error_rate": null}"#,
        400,
        "field `error_rate`",
    ),
    (
        Some("application/json"),
        r#"{"error_rate": 2}"#,
        400,
        "error_rate must be between 0 and 1",
    ),
    (
        Some("application/json"),
        r#"{"error_rate": -0.5}"#,
        400,
        "error_rate must be between 0 and 1",
    ),
    (
        Some("application/json"),
        r#"{"error_rate": 1e400}"#,
        400,
        "",
    ),
    (
        Some("application/json"),
        r#"{"hang": "yes"}"#,
        400,
        "field `hang`",
    ),
    (
        Some("application/json"),
        r#"{"affect_health": 1}"#,
        400,
        "field `affect_health`",
    ),
    (
        Some("application/json"),
        r#"{"latency": "100-300"}"#,
        400,
        "field `latency`",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 1}}"#,
        400,
        "field `latency`: missing field `max_ms`",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 9, "max_ms": 1}}"#,
        400,
        "latency min_ms (9) must not exceed max_ms (1)",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 0, "max_ms": 3600001}}"#,
        400,
        "latency above 3600000 ms",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 0, "max_ms": 18446744073709551615}}"#,
        400,
        "latency above",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 0, "max_ms": 1e30}}"#,
        400,
        "field `latency`",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": -1, "max_ms": 5}}"#,
        400,
        "field `latency`",
    ),
    (
        Some("application/json"),
        r#"{"latency": {"min_ms": 1, "max_ms": 5, "jitter": 2}}"#,
        400,
        "field `latency`: unknown field `jitter`",
    ),
];

#[tokio::test]
async fn every_bad_fault_body_is_refused_naming_the_problem() {
    let provider = Service::start(BIN, &[], &[FAULT_TOKEN_ENV]).await;
    let http = client(Duration::from_secs(10));
    for (content_type, body, status, needle) in BAD_BODIES {
        let mut request = http
            .put(provider.url("/faults"))
            .bearer_auth(FAULT_TOKEN)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", *content_type);
        }
        let res = request.send().await.expect("PUT /faults");
        let got = res.status().as_u16();
        let answer: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(got, *status, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            !error.is_empty(),
            "{body}: an error message is JSON: {answer}"
        );
        assert!(
            error.contains(needle),
            "{body}: {error:?} should say {needle:?}"
        );
    }

    // Oversized bodies, and JSON nested past serde's recursion limit.
    let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(1 << 20));
    let just_over = format!(r#"{{"pad": "{}"}}"#, "x".repeat(16 * 1024));
    let deep = format!("{}{}", "[".repeat(8000), "]".repeat(8000));
    for (body, status) in [(huge, 413), (just_over, 413), (deep, 400)] {
        let (got, answer) = fault_request(
            &provider.url(""),
            Method::PUT,
            Some(FAULT_TOKEN),
            Some(&body),
        )
        .await;
        assert_eq!(got, status, "{} bytes: {answer}", body.len());
    }
    // Bytes that are not UTF-8.
    let res = http
        .put(provider.url("/faults"))
        .bearer_auth(FAULT_TOKEN)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http
        .post(provider.url("/faults"))
        .bearer_auth(FAULT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405, "a method the route does not have");
    let res = http.post(provider.url("/faults")).send().await.unwrap();
    assert_eq!(res.status(), 401, "which a stranger does not learn");

    // None of it changed the faults or hurt the process.
    let (status, faults) = fault_request(&provider.url(""), Method::GET, None, None).await;
    assert_eq!(
        (status, faults),
        (
            200,
            json!({"latency": null, "error_rate": 0.0, "hang": false, "affect_health": false})
        )
    );
    let greeting = http.get(provider.url("/")).send().await.unwrap();
    assert_eq!(greeting.status(), 200);
    assert!(!provider.log().contains("panicked"), "{}", provider.log());
}

/// Headers a stranger might send instead of the token.
#[tokio::test]
async fn malformed_authorization_headers_are_401_not_a_crash() {
    let provider = Service::start(BIN, &[], &[FAULT_TOKEN_ENV]).await;
    let http = client(Duration::from_secs(10));
    let long = format!("Bearer {}", "a".repeat(7000));
    for value in [
        "Bearer",
        "Bearer ",
        "bearer",
        "Token abc",
        long.as_str(),
        "Bearer \u{7f}",
    ] {
        let res = http
            .delete(provider.url("/faults"))
            .header("authorization", value)
            .send()
            .await;
        let Ok(res) = res else { continue }; // a header reqwest itself will not send
        assert_eq!(res.status(), 401, "{value:?}");
    }
    let res = http
        .delete(provider.url("/faults"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "bytes that are not text");
    assert!(!provider.log().contains("panicked"), "{}", provider.log());
}
