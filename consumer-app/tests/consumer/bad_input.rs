//! Everything malformed or out of range a user can hand consumer-app: its own flags,
//! their environment variables, and requests to its routes. A configuration error is one stderr line naming
//! the flag (exit 2); a bad request gets a 4xx; nothing panics.

use super::{CONSUMER, stopped_provider_url};
use std::time::Duration;

use test_kit::service::{BadValues, Service, assert_bad_env, assert_bad_flags, client};

/// A flag of consumer-app's own: `(flag, values, what the error line must also say)`.
/// The shared serve flags (`--bind`, `--port`, ...) are service-common's, tested in
/// service-common/tests/server.rs; service.rs's `the_shared_serve_flags_apply` checks they are used.
const BAD_FLAGS: BadValues = &[
    (
        "--provider-url",
        &["not a url", "ftp://provider/", "http://", ""],
        "http(s) URL",
    ),
    ("--resilience", &["maybe"], "off, on"),
    ("--connect-timeout-ms", &["0", "-1"], "milliseconds"),
    (
        "--connect-timeout-ms",
        &["3600001", "18446744073709551616"],
        "from 1 to 3600000",
    ),
    ("--connect-timeout-ms", &["1.5"], "milliseconds"),
    ("--call-timeout-ms", &["0"], "milliseconds"),
    (
        "--call-timeout-ms",
        &["18446744073709551615"],
        "from 1 to 3600000",
    ),
    ("--call-timeout-ms", &["soon"], "milliseconds"),
    ("--circuit-open-ms", &["0"], "milliseconds"),
    ("--circuit-open-ms", &["86400000"], "from 1 to 3600000"),
    (
        "--circuit-failure-threshold",
        &["0", "-2", "4294967296", "five"],
        "greater than zero",
    ),
    (
        "--max-concurrent-calls",
        &["0", "99999999999"],
        "greater than zero",
    ),
    (
        "--max-body-bytes",
        &["0", "268435457"],
        "from 1 to 268435456",
    ),
    ("--max-body-bytes", &["1e9"], "bytes"),
];

/// The same through the environment: `(variable, values, flag)`.
const BAD_ENV: BadValues = &[
    ("PROVIDER_URL", &["provider:8080"], "--provider-url"),
    ("CONSUMER_RESILIENCE", &["yes"], "--resilience"),
    ("CONNECT_TIMEOUT_MS", &["0"], "--connect-timeout-ms"),
    ("CALL_TIMEOUT_MS", &["99999999"], "--call-timeout-ms"),
    ("CIRCUIT_OPEN_MS", &["-1"], "--circuit-open-ms"),
    (
        "CIRCUIT_FAILURE_THRESHOLD",
        &["0"],
        "--circuit-failure-threshold",
    ),
    ("MAX_CONCURRENT_CALLS", &["none"], "--max-concurrent-calls"),
    ("MAX_BODY_BYTES", &["-5"], "--max-body-bytes"),
];

#[test]
fn every_bad_flag_is_one_line_naming_it_and_exit_2() {
    assert_bad_flags(CONSUMER, BAD_FLAGS);
}

#[test]
fn every_bad_env_value_is_one_line_naming_flag_and_variable() {
    assert_bad_env(CONSUMER, BAD_ENV);
}

/// The largest values each flag takes still start and serve (no overflow in a timer).
#[tokio::test]
async fn the_largest_accepted_values_serve_without_panicking() {
    let down = stopped_provider_url();
    let consumer = Service::start(
        CONSUMER,
        &[
            "--provider-url",
            &down,
            "--resilience",
            "on",
            "--connect-timeout-ms",
            "3600000",
            "--call-timeout-ms",
            "3600000",
            "--circuit-open-ms",
            "3600000",
            "--circuit-failure-threshold",
            "1",
            "--max-concurrent-calls",
            "4294967295",
            "--shutdown-timeout-secs",
            "3600",
        ],
        &[],
    )
    .await;
    let http = client(Duration::from_secs(10));
    for _ in 0..3 {
        let res = http
            .get(consumer.url("/invokeConsumedService"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "a fallback, the circuit opening on the way"
        );
    }
    assert!(!consumer.log().contains("panicked"), "{}", consumer.log());
}

/// A body on the consumer's own route. (Unknown routes, huge headers and bytes that
/// are not HTTP are service-common's: service-common/tests/server.rs.)
#[tokio::test]
async fn a_megabyte_body_is_refused_not_a_crash() {
    let down = stopped_provider_url();
    let consumer = Service::start(CONSUMER, &["--provider-url", &down], &[]).await;
    let http = client(Duration::from_secs(10));
    let res = http
        .post(consumer.url("/invokeConsumedService"))
        .body("x".repeat(1 << 20))
        .send()
        .await;
    // Refused without reading the megabyte; the connection may close first.
    if let Ok(res) = res {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    assert_eq!(
        http.get(consumer.url("/")).send().await.unwrap().status(),
        200
    );
    assert!(!consumer.log().contains("panicked"), "{}", consumer.log());
}
