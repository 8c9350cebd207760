//! consumer-app's own endpoints, metrics, graceful shutdown with a call in flight, and
//! configuration errors of its own flags (the shared ones, the JSON 404 and the drain
//! itself are service-common's: service-common/tests/server.rs).

use super::{CONSUMER, provider_bin, stopped_provider_url};
use std::time::Duration;

use serde_json::{Value, json};
use test_kit::service::{
    FAULT_TOKEN_ENV, Service, Signal, assert_drains_on, assert_has_lines, assert_one_line_error,
    assert_takes_the_shared_serve_flags, get, metrics_text, run_to_exit, set_faults,
};

#[tokio::test]
async fn own_endpoints_answer_without_the_provider() {
    let consumer =
        Service::start(CONSUMER, &["--provider-url", &stopped_provider_url()], &[]).await;
    let res = get(&consumer.url("/")).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("consumer is alive"));
    for path in ["/health/live", "/actuator/health"] {
        let res = get(&consumer.url(path)).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"status": "UP"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn readiness_reports_mode_and_circuit() {
    let off = Service::start(CONSUMER, &["--provider-url", &stopped_provider_url()], &[]).await;
    let ready: Value = get(&off.url("/health/ready")).await.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "UP", "resilience": "off", "circuit": "disabled"})
    );

    let on = Service::start(
        CONSUMER,
        &["--provider-url", &stopped_provider_url()],
        &[("CONSUMER_RESILIENCE", "on")],
    )
    .await;
    let ready: Value = get(&on.url("/health/ready")).await.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "UP", "resilience": "on", "circuit": "closed"})
    );
}

#[tokio::test]
async fn metrics_count_outcomes_and_provider_calls() {
    let provider = Service::start(provider_bin(), &[], &[FAULT_TOKEN_ENV]).await;
    let consumer = Service::start(
        CONSUMER,
        &["--provider-url", &provider.url("/"), "--resilience", "on"],
        &[],
    )
    .await;
    get(&consumer.url("/invokeConsumedService")).await;
    get(&consumer.url("/invokeConsumedService")).await;
    set_faults(&provider, r#"{"error_rate": 1}"#).await;
    get(&consumer.url("/invokeConsumedService")).await;

    assert_has_lines(
        &metrics_text(&consumer).await,
        &[
            r#"consumer_invocations_total{outcome="ok"} 2"#,
            r#"consumer_invocations_total{outcome="fallback"} 1"#,
            r#"consumer_invocations_total{outcome="error"} 0"#,
            r#"consumer_fallbacks_total{reason="provider-error"} 1"#,
            r#"consumer_provider_call_duration_seconds_count{result="ok"} 2"#,
            r#"consumer_provider_call_duration_seconds_count{result="error"} 1"#,
            r#"consumer_circuit_state{state="closed"} 1"#,
            r#"http_requests_total{route="/invokeConsumedService",status="200"} 3"#,
        ],
    );

    let naive = Service::start(CONSUMER, &["--provider-url", &stopped_provider_url()], &[]).await;
    get(&naive.url("/invokeConsumedService")).await;
    assert_has_lines(
        &metrics_text(&naive).await,
        &[
            r#"consumer_invocations_total{outcome="error"} 1"#,
            r#"consumer_circuit_state{state="disabled"} 1"#,
        ],
    );
}

/// The drain is service-common's (tested there); here a call to the provider in flight
/// at SIGTERM still gets its answer.
#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish_then_exits_zero() {
    let provider = Service::start(provider_bin(), &["--fault-latency-ms", "1200"], &[]).await;
    let mut consumer = Service::start(CONSUMER, &["--provider-url", &provider.url("/")], &[]).await;
    assert_drains_on(
        &mut consumer,
        Signal::SIGTERM,
        "/invokeConsumedService",
        "Greetings",
    )
    .await;
}

/// Arguments, environment, and what the one error line must mention.
type ConfigCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn bad_configuration_exits_with_one_line_naming_flag_and_value() {
    let budget = Duration::from_secs(10);
    let cases: &[ConfigCase] = &[
        (
            &["--provider-url", "htp:/x"],
            &[],
            &["--provider-url", "PROVIDER_URL", "'htp:/x'", "http(s) URL"],
        ),
        (
            &[],
            &[("PROVIDER_URL", "not a url")],
            &["--provider-url", "PROVIDER_URL", "'not a url'"],
        ),
        (
            &["--resilience", "maybe"],
            &[],
            &["--resilience", "CONSUMER_RESILIENCE", "'maybe'", "off, on"],
        ),
        (
            &[],
            &[("CONSUMER_RESILIENCE", "sometimes")],
            &["CONSUMER_RESILIENCE", "'sometimes'"],
        ),
        (
            &["--call-timeout-ms", "0"],
            &[],
            &["--call-timeout-ms", "CALL_TIMEOUT_MS", "'0'"],
        ),
        (
            &["--connect-timeout-ms", "-250"],
            &[],
            &["--connect-timeout-ms", "CONNECT_TIMEOUT_MS", "'-250'"],
        ),
        (
            &[],
            &[("CIRCUIT_OPEN_MS", "-1")],
            &["--circuit-open-ms", "CIRCUIT_OPEN_MS", "'-1'"],
        ),
        (
            &["--circuit-failure-threshold", "0"],
            &[],
            &["--circuit-failure-threshold", "'0'"],
        ),
        (
            &["--max-concurrent-calls", "none"],
            &[],
            &["--max-concurrent-calls", "'none'"],
        ),
    ];
    for (args, envs, needles) in cases {
        let out = run_to_exit(CONSUMER, args, envs, budget);
        assert_one_line_error(&out, needles);
    }
}

/// The shared serve flags are service-common's (every case is in
/// service-common/tests/server.rs): a smoke check that this service takes them.
#[test]
fn the_shared_serve_flags_apply() {
    assert_takes_the_shared_serve_flags(CONSUMER);
}
