//! Everything malformed or out of range a user can hand consumer-app: flags, their
//! environment variables, and requests. A configuration error is one stderr line naming
//! the flag (exit 2); a bad request gets a 4xx; nothing panics.

use std::time::Duration;

use test_kit::service::{Service, assert_one_line_error, client, free_port, run_to_exit};

const BIN: &str = env!("CARGO_BIN_EXE_consumer-app");

/// A flag's value: `(flag, value, what the error line must also say)`.
const BAD_FLAGS: &[(&str, &str, &str)] = &[
    ("--bind", "0.0.0.0", "IP:PORT"),
    ("--port", "65536", "port number"),
    ("--port", "-80", "port number"),
    ("--shutdown-timeout-secs", "0", "seconds"),
    ("--shutdown-timeout-secs", "3601", "seconds"),
    ("--log-format", "loud", "text, json"),
    ("--provider-url", "not a url", "http(s) URL"),
    ("--provider-url", "ftp://provider/", "http(s) URL"),
    ("--provider-url", "http://", "http(s) URL"),
    ("--provider-url", "", "http(s) URL"),
    ("--resilience", "maybe", "off, on"),
    ("--connect-timeout-ms", "0", "milliseconds"),
    ("--connect-timeout-ms", "-1", "milliseconds"),
    ("--connect-timeout-ms", "3600001", "from 1 to 3600000"),
    (
        "--connect-timeout-ms",
        "18446744073709551616",
        "from 1 to 3600000",
    ),
    ("--connect-timeout-ms", "1.5", "milliseconds"),
    ("--call-timeout-ms", "0", "milliseconds"),
    (
        "--call-timeout-ms",
        "18446744073709551615",
        "from 1 to 3600000",
    ),
    ("--call-timeout-ms", "soon", "milliseconds"),
    ("--circuit-open-ms", "0", "milliseconds"),
    ("--circuit-open-ms", "86400000", "from 1 to 3600000"),
    ("--circuit-failure-threshold", "0", "greater than zero"),
    ("--circuit-failure-threshold", "-2", "greater than zero"),
    (
        "--circuit-failure-threshold",
        "4294967296",
        "greater than zero",
    ),
    ("--circuit-failure-threshold", "five", "greater than zero"),
    ("--max-concurrent-calls", "0", "greater than zero"),
    ("--max-concurrent-calls", "99999999999", "greater than zero"),
    ("--max-body-bytes", "0", "from 1 to 268435456"),
    ("--max-body-bytes", "268435457", "from 1 to 268435456"),
    ("--max-body-bytes", "1e9", "bytes"),
];

/// The same through the environment: `(variable, value, flag)`.
const BAD_ENV: &[(&str, &str, &str)] = &[
    ("PROVIDER_URL", "provider:8080", "--provider-url"),
    ("CONSUMER_RESILIENCE", "yes", "--resilience"),
    ("CONNECT_TIMEOUT_MS", "0", "--connect-timeout-ms"),
    ("CALL_TIMEOUT_MS", "99999999", "--call-timeout-ms"),
    ("CIRCUIT_OPEN_MS", "-1", "--circuit-open-ms"),
    (
        "CIRCUIT_FAILURE_THRESHOLD",
        "0",
        "--circuit-failure-threshold",
    ),
    ("MAX_CONCURRENT_CALLS", "none", "--max-concurrent-calls"),
    ("MAX_BODY_BYTES", "-5", "--max-body-bytes"),
    ("PORT", "port", "--port"),
    (
        "SHUTDOWN_TIMEOUT_SECS",
        "forever",
        "--shutdown-timeout-secs",
    ),
];

const BUDGET: Duration = Duration::from_secs(10);

#[test]
fn every_bad_flag_is_one_line_naming_it_and_exit_2() {
    for (flag, value, reason) in BAD_FLAGS {
        let arg = format!("{flag}={value}");
        let out = run_to_exit(BIN, &[&arg], &[], BUDGET);
        let line = assert_one_line_error(&out, &[flag, reason]);
        assert_eq!(out.status.code(), Some(2), "{arg}: {line}");
    }
}

#[test]
fn every_bad_env_value_is_one_line_naming_flag_and_variable() {
    for (name, value, flag) in BAD_ENV {
        let out = run_to_exit(BIN, &[], &[(name, value)], BUDGET);
        let line = assert_one_line_error(&out, &[flag, name]);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {line}");
    }
}

/// The largest values each flag takes still start and serve (no overflow in a timer).
#[tokio::test]
async fn the_largest_accepted_values_serve_without_panicking() {
    let down = format!("http://127.0.0.1:{}/", free_port());
    let consumer = Service::start(
        BIN,
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

#[tokio::test]
async fn bad_requests_get_4xx_not_a_crash() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let down = format!("http://127.0.0.1:{}/", free_port());
    let consumer = Service::start(BIN, &["--provider-url", &down], &[]).await;
    let http = client(Duration::from_secs(10));
    let res = http
        .get(consumer.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .post(consumer.url("/invokeConsumedService"))
        .body("x".repeat(1 << 20))
        .send()
        .await;
    // Refused without reading the megabyte; the connection may close first.
    if let Ok(res) = res {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    // A huge header: answered or refused, never a server error.
    let res = http
        .get(consumer.url("/"))
        .header("x-huge", "x".repeat(1 << 20))
        .send()
        .await;
    if let Ok(res) = res {
        assert!(!res.status().is_server_error(), "{}", res.status());
    }
    for raw in [
        &b"NOT HTTP AT ALL\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&consumer.addr)
            .await
            .unwrap();
        stream.write_all(raw).await.unwrap();
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "no answer to {raw:?}");
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{raw:?}: {answer}"
        );
    }
    assert_eq!(
        http.get(consumer.url("/")).send().await.unwrap().status(),
        200
    );
    assert!(!consumer.log().contains("panicked"), "{}", consumer.log());
}
