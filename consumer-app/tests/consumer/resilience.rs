//! The cascading failure and its fix, with real processes on 127.0.0.1: consumer-app in
//! front of a real provider-app that is stopped, hanging, failing, or coming back.

use super::{CONSUMER, provider_bin, stopped_provider_url};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_kit::service::{Service, client};

/// What the "after" system promises: no user waits longer than about a second. Asserted
/// with a margin for a loaded machine.
const BUDGET: Duration = Duration::from_millis(1500);

async fn consumer(provider_url: &str, resilience: &str, extra: &[&str]) -> Service {
    let mut args = vec!["--provider-url", provider_url, "--resilience", resilience];
    args.extend_from_slice(extra);
    Service::start(CONSUMER, &args, &[]).await
}

struct Answer {
    status: u16,
    fallback: Option<String>,
    reason: Option<String>,
    content_type: String,
    body: String,
    took: Duration,
}

async fn invoke(consumer: &Service, timeout: Duration) -> reqwest::Result<Answer> {
    let started = Instant::now();
    let res = client(timeout)
        .get(consumer.url("/invokeConsumedService"))
        .send()
        .await?;
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let fallback = header("x-fallback");
    let reason = header("x-fallback-reason");
    let content_type = header("content-type").unwrap_or_default();
    let status = res.status().as_u16();
    let body = res.text().await?;
    Ok(Answer {
        status,
        fallback,
        reason,
        content_type,
        body,
        took: started.elapsed(),
    })
}

async fn circuit(consumer: &Service) -> String {
    let ready: Value = client(Duration::from_secs(5))
        .get(consumer.url("/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ready["circuit"].as_str().unwrap_or_default().to_string()
}

async fn live_status(consumer: &Service) -> u16 {
    client(Duration::from_secs(5))
        .get(consumer.url("/health/live"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

// ---- resilience off: the "before" system ----

#[tokio::test]
async fn off_provider_healthy_passes_its_greeting_through() {
    let provider = Service::start(provider_bin(), &["--instance-name", "upstream-1"], &[]).await;
    let consumer = consumer(&provider.url("/"), "off", &[]).await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("Greetings from provider upstream-1"),
        "{}",
        answer.body
    );
    assert_eq!(answer.fallback, None);
}

#[tokio::test]
async fn off_provider_stopped_answers_500_naming_the_cause() {
    let url = stopped_provider_url();
    let consumer = consumer(&url, "off", &[]).await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.status, 500);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["error"], "provider call failed");
    assert_eq!(body["cause"], "connection refused");
    assert_eq!(body["provider_url"], url.as_str());
    assert_eq!(
        live_status(&consumer).await,
        200,
        "liveness must not depend on the provider"
    );
}

#[tokio::test]
async fn off_provider_failing_answers_500_with_its_status() {
    let provider = Service::start(provider_bin(), &["--fault-error-rate", "1"], &[]).await;
    let consumer = consumer(&provider.url("/"), "off", &[]).await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.status, 500);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["cause"], "provider answered 500 Internal Server Error");
}

#[tokio::test]
async fn off_provider_hanging_leaves_the_user_hanging() {
    let provider = Service::start(provider_bin(), &["--fault-hang"], &[]).await;
    let consumer = consumer(&provider.url("/"), "off", &[]).await;
    let err = invoke(&consumer, BUDGET + Duration::from_millis(500))
        .await
        .err()
        .expect("the naive consumer must still have no answer after the budget");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(live_status(&consumer).await, 200);
}

// ---- resilience on: the "after" system ----

#[tokio::test]
async fn on_provider_healthy_answers_for_real() {
    let provider = Service::start(provider_bin(), &["--instance-name", "upstream-2"], &[]).await;
    let consumer = consumer(&provider.url("/"), "on", &[]).await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.fallback, None);
    assert!(answer.body.contains("upstream-2"), "{}", answer.body);
    assert_eq!(circuit(&consumer).await, "closed");
}

#[tokio::test]
async fn on_provider_stopped_falls_back_within_budget_then_opens_the_circuit() {
    let consumer = consumer(
        &stopped_provider_url(),
        "on",
        &["--circuit-failure-threshold", "3"],
    )
    .await;
    for _ in 0..3 {
        let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.fallback.as_deref(), Some("true"));
        assert_eq!(answer.reason.as_deref(), Some("connect-error"));
        assert!(
            answer.body.to_lowercase().contains("degraded"),
            "{}",
            answer.body
        );
        assert!(answer.took < BUDGET, "fallback took {:?}", answer.took);
    }
    assert_eq!(circuit(&consumer).await, "open");
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (answer.status, answer.reason.as_deref()),
        (200, Some("circuit-open"))
    );
    assert_eq!(
        live_status(&consumer).await,
        200,
        "liveness must not depend on the provider"
    );
}

#[tokio::test]
async fn on_provider_hanging_times_out_within_budget_then_fails_fast() {
    let provider = Service::start(provider_bin(), &["--fault-hang"], &[]).await;
    let consumer = consumer(
        &provider.url("/"),
        "on",
        &[
            "--circuit-failure-threshold",
            "2",
            "--circuit-open-ms",
            "60000",
        ],
    )
    .await;
    for _ in 0..2 {
        let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (answer.status, answer.reason.as_deref()),
            (200, Some("timeout"))
        );
        assert!(
            answer.took < BUDGET,
            "timeout fallback took {:?}",
            answer.took
        );
        assert!(
            answer.took >= Duration::from_millis(700),
            "gave up early: {:?}",
            answer.took
        );
    }
    assert_eq!(circuit(&consumer).await, "open");
    for _ in 0..5 {
        let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (answer.status, answer.reason.as_deref()),
            (200, Some("circuit-open"))
        );
        assert!(
            answer.took < Duration::from_millis(300),
            "open circuit took {:?}",
            answer.took
        );
    }
}

#[tokio::test]
async fn on_provider_errors_fall_back() {
    let provider = Service::start(provider_bin(), &["--fault-error-rate", "1"], &[]).await;
    let consumer = consumer(&provider.url("/"), "on", &[]).await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (answer.status, answer.reason.as_deref()),
        (200, Some("provider-error"))
    );
}

#[tokio::test]
async fn on_provider_back_half_opens_then_closes_the_circuit() {
    let mut provider = Service::start(provider_bin(), &["--instance-name", "first"], &[]).await;
    let port = provider.addr.rsplit(':').next().unwrap().to_string();
    let consumer = consumer(
        &provider.url("/"),
        "on",
        &[
            "--circuit-failure-threshold",
            "2",
            "--circuit-open-ms",
            "700",
        ],
    )
    .await;
    assert_eq!(
        invoke(&consumer, Duration::from_secs(10))
            .await
            .unwrap()
            .status,
        200
    );

    provider.kill();
    for _ in 0..2 {
        let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
        assert_eq!(answer.fallback.as_deref(), Some("true"));
    }
    assert_eq!(circuit(&consumer).await, "open");

    let _back = Service::start(
        provider_bin(),
        &["--port", &port, "--instance-name", "second"],
        &[],
    )
    .await;
    // While open, calls are not even tried.
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.reason.as_deref(), Some("circuit-open"));

    tokio::time::sleep(Duration::from_millis(900)).await;
    // The open period is over: readiness says so before any call has tried.
    assert_eq!(circuit(&consumer).await, "half_open");
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (answer.status, answer.fallback.as_deref()),
        (200, None),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("second"), "{}", answer.body);
    assert_eq!(circuit(&consumer).await, "closed");

    let metrics = client(Duration::from_secs(5))
        .get(consumer.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"consumer_circuit_transitions_total{to="open"} 1"#,
        r#"consumer_circuit_transitions_total{to="half_open"} 1"#,
        r#"consumer_circuit_transitions_total{to="closed"} 1"#,
        r#"consumer_circuit_state{state="closed"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn on_half_open_lets_one_trial_call_through_and_falls_back_for_the_rest() {
    let provider = Service::start(provider_bin(), &["--fault-hang"], &[]).await;
    let consumer = consumer(
        &provider.url("/"),
        "on",
        &[
            "--circuit-failure-threshold",
            "1",
            "--circuit-open-ms",
            "1000",
            // A long trial call, so all five calls surely arrive while it is in flight.
            "--call-timeout-ms",
            "3000",
        ],
    )
    .await;
    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(answer.reason.as_deref(), Some("timeout"));
    assert_eq!(circuit(&consumer).await, "open");
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // The open period is over: of five concurrent calls, one is the trial call (it hangs
    // on the provider until the call timeout), the others fall back at once.
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let url = consumer.url("/invokeConsumedService");
            tokio::spawn(async move {
                let started = Instant::now();
                let res = client(Duration::from_secs(10))
                    .get(url)
                    .send()
                    .await
                    .unwrap();
                let reason = res
                    .headers()
                    .get("x-fallback-reason")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                (res.status().as_u16(), reason, started.elapsed())
            })
        })
        .collect();
    let mut reasons = Vec::new();
    for call in calls {
        let (status, reason, took) = call.await.unwrap();
        assert_eq!(status, 200, "{reason}");
        if reason == "circuit-half-open" {
            assert!(took < Duration::from_millis(1500), "took {took:?}");
        }
        reasons.push(reason);
    }
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "circuit-half-open",
            "circuit-half-open",
            "circuit-half-open",
            "circuit-half-open",
            "timeout"
        ]
    );
    // The trial call failed: open again.
    assert_eq!(circuit(&consumer).await, "open");
}

#[tokio::test]
async fn on_bulkhead_full_answers_the_fallback_at_once() {
    let provider = Service::start(provider_bin(), &["--fault-latency-ms", "1500"], &[]).await;
    let consumer = consumer(
        &provider.url("/"),
        "on",
        &["--max-concurrent-calls", "1", "--call-timeout-ms", "5000"],
    )
    .await;
    let url = consumer.url("/invokeConsumedService");
    let slow = tokio::spawn(async move { client(Duration::from_secs(10)).get(url).send().await });
    tokio::time::sleep(Duration::from_millis(400)).await;

    let answer = invoke(&consumer, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (answer.status, answer.reason.as_deref()),
        (200, Some("bulkhead-full"))
    );
    assert!(
        answer.took < Duration::from_millis(500),
        "bulkhead rejection took {:?}",
        answer.took
    );

    let first = slow.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    assert!(
        first.headers().get("x-fallback").is_none(),
        "the call holding the permit gets the real answer"
    );
}

/// The naive consumer waits for a hanging provider as long as its own client does; when
/// the client gives up, the consumer lets go too (it held a connection per abandoned
/// request before: thousands of descriptors under load).
#[tokio::test]
async fn off_abandoned_requests_to_a_hanging_provider_are_let_go() {
    let provider = Service::start(provider_bin(), &["--fault-hang"], &[]).await;
    let consumer = consumer(&provider.url("/"), "off", &[]).await;
    let fds = || test_kit::process::open_fds(consumer.pid());
    // One request first, so the consumer's client has connected once.
    test_kit::service::abandon_requests(&consumer.addr, "/invokeConsumedService", 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = fds();

    test_kit::service::abandon_requests(&consumer.addr, "/invokeConsumedService", 60);
    tokio::time::sleep(Duration::from_millis(300)).await;
    test_kit::service::eventually(
        "the consumer closes the abandoned requests and their provider calls",
        Duration::from_secs(10),
        || fds() <= baseline + 5,
        || format!("{} fds open, {baseline} before", fds()),
    )
    .await;
}
