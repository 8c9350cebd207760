//! service-common as a service sees it, through `service-common-test-server` (a tiny
//! server on this crate alone): the shared serve flags and their one-line errors, the
//! JSON answers to bad requests, malformed HTTP, per-route metrics, JSON logs, and the
//! graceful drain on SIGTERM/SIGINT. provider-app and consumer-app keep only their own
//! flags and routes, plus a smoke check that they use these
//! (`test_kit::service::assert_takes_the_shared_serve_flags`, `assert_drains_on`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_kit::service::{
    BadValues, Service, Signal, assert_bad_env, assert_bad_flags, assert_drains_on,
    assert_exits_zero, assert_has_lines, assert_one_line_error, client, get, in_flight,
    metrics_text, run_to_exit,
};

const BIN: &str = env!("CARGO_BIN_EXE_service-common-test-server");

const BUDGET: Duration = Duration::from_secs(10);

async fn start(args: &[&str]) -> Service {
    Service::start(BIN, args, &[]).await
}

/// The shared flags' bad values: `(flag, values, what the error line must also say)`.
const BAD_FLAGS: BadValues = &[
    (
        "--bind",
        &["localhost", "127.0.0.1", "0.0.0.0", "127.0.0.1:70000"],
        "IP:PORT",
    ),
    ("--port", &["65536", "-1", "-80", "http"], "port number"),
    (
        "--shutdown-timeout-secs",
        &["0", "-3", "3601", "99999999999999999999999", "1.5"],
        "seconds",
    ),
    ("--log-format", &["xml", "loud"], "text, json"),
];

/// The same through the environment: `(variable, values, flag)`.
const BAD_ENV: BadValues = &[
    ("BIND", &["everywhere"], "--bind"),
    ("PORT", &["99999", "port"], "--port"),
    (
        "SHUTDOWN_TIMEOUT_SECS",
        &["0", "forever"],
        "--shutdown-timeout-secs",
    ),
    ("LOG_FORMAT", &["yaml"], "--log-format"),
];

#[test]
fn every_bad_shared_flag_is_one_line_naming_it_and_exit_2() {
    assert_bad_flags(BIN, BAD_FLAGS);
    let out = run_to_exit(BIN, &["--no-such-flag"], &[], BUDGET);
    assert_one_line_error(&out, &["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_bad_shared_env_value_is_one_line_naming_flag_and_variable() {
    assert_bad_env(BIN, BAD_ENV);
}

/// The line names the flag, its variable and the value as given.
#[test]
fn bad_configuration_exits_with_one_line_naming_flag_and_value() {
    let out = run_to_exit(BIN, &["--bind", "localhost"], &[], BUDGET);
    assert_one_line_error(&out, &["--bind", "BIND", "'localhost'"]);

    let out = run_to_exit(BIN, &["--port", "-1"], &[], BUDGET);
    assert_one_line_error(&out, &["--port"]);

    let out = run_to_exit(BIN, &["--log-format", "xml"], &[], BUDGET);
    assert_one_line_error(&out, &["--log-format", "LOG_FORMAT", "'xml'"]);

    // A server's own flag goes through the same rule.
    let out = run_to_exit(BIN, &["--delay-ms", "-250"], &[], BUDGET);
    assert_one_line_error(&out, &["--delay-ms", "TEST_SERVER_DELAY_MS", "'-250'"]);
}

#[test]
fn an_address_file_that_cannot_be_written_is_one_line_naming_it() {
    let out = run_to_exit(
        BIN,
        &[
            "--bind",
            "127.0.0.1:0",
            "--addr-file",
            "/nonexistent-dir/addr",
        ],
        &[],
        BUDGET,
    );
    assert_one_line_error(&out, &["/nonexistent-dir/addr"]);
}

#[test]
fn port_in_use_exits_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run_to_exit(BIN, &["--bind", &addr], &[], BUDGET);
    assert_one_line_error(&out, &["--bind", &addr, "in use"]);

    // --port replaces the port of --bind, and the error names it.
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run_to_exit(
        BIN,
        &["--bind", "127.0.0.1:1", "--port", &port],
        &[],
        BUDGET,
    );
    assert_one_line_error(&out, &["--port", &port, "in use"]);
}

#[tokio::test]
async fn unknown_routes_get_a_json_404_naming_the_path() {
    let server = start(&[]).await;
    for path in ["/no/such/route", "/nope"] {
        let res = get(&server.url(path)).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, json!({"error": "not found", "path": path}));
    }
}

#[tokio::test]
async fn bad_json_bodies_get_400_and_oversized_ones_413() {
    let server = start(&[]).await;
    let http = client(Duration::from_secs(10));
    let post = |body: String| {
        http.post(server.url("/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = post(r#"{"hang": true}"#.to_string()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"hang": true}));

    for body in ["{not json".to_string(), String::new(), "[".repeat(8000)] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{} bytes", body.len());
        let answer: Value = res.json().await.unwrap();
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    let just_over = format!(r#"{{"pad": "{}"}}"#, "x".repeat(16 * 1024));
    let res = post(just_over).await.unwrap();
    assert_eq!(res.status(), 413);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["error"], "body larger than 16384 bytes");
    // A megabyte is refused without being read; the connection may close first.
    if let Ok(res) = post("x".repeat(1 << 20)).await {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    assert_eq!(get(&server.url("/")).await.status(), 200, "still serving");
}

#[tokio::test]
async fn malformed_http_gets_4xx_not_a_crash() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start(&[]).await;
    // A huge header: answered or refused, never a server error.
    let res = client(Duration::from_secs(10))
        .get(server.url("/"))
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
        let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
        stream.write_all(raw).await.unwrap();
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "no answer to {raw:?}");
        let answer = String::from_utf8_lossy(&answer);
        if raw.starts_with(b"NOT HTTP") {
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        } else {
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
                "{raw:?}: {answer}"
            );
        }
    }
    assert_eq!(get(&server.url("/")).await.status(), 200, "still serving");
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = start(&[]).await;
    for path in ["/", "/", "/", "/nowhere", "/another/nowhere"] {
        get(&server.url(path)).await;
    }

    assert_has_lines(
        &metrics_text(&server).await,
        &[
            r#"http_requests_total{route="/",status="200"} 3"#,
            // Unknown paths share one label, whatever a client sends.
            r#"http_requests_total{route="unmatched",status="404"} 2"#,
            r#"http_request_duration_seconds_count{route="/"} 3"#,
        ],
    );
}

#[tokio::test]
async fn json_log_format_writes_one_json_object_per_line() {
    let server = start(&["--log-format", "json"]).await;
    get(&server.url("/")).await;
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(log.contains("test server listening"), "{log}");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let mut server = start(&[]).await;
    assert_drains_on(&mut server, Signal::SIGTERM, "/slow", "slow answer").await;
}

#[tokio::test]
async fn sigint_drains_like_sigterm() {
    let mut server = start(&[]).await;
    assert_drains_on(&mut server, Signal::SIGINT, "/slow", "slow answer").await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_on_hung_requests() {
    let mut server = start(&["--shutdown-timeout-secs", "1"]).await;
    let hung = in_flight(
        &server,
        "/hang",
        Duration::from_secs(20),
        Duration::from_millis(300),
    )
    .await;
    let started = Instant::now();
    server.terminate();
    assert_exits_zero(&mut server).await;
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
