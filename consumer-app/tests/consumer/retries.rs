//! Opt-in retries (`--retries`), with real processes on 127.0.0.1: a provider-app
//! failing every call (`--fault-error-rate 1`) counts the calls it gets in its own
//! metrics, so the tests see what the retries cost the provider.

use std::time::{Duration, Instant};

use test_kit::service::{Service, assert_one_line_error, client, run_to_exit};

use super::{CONSUMER, provider_bin};

/// A provider answering every greeting 500.
async fn failing_provider() -> Service {
    Service::start(provider_bin(), &["--fault-error-rate", "1"], &[]).await
}

/// A resilient consumer whose breaker never opens, so only the retries decide how many
/// calls the provider gets.
async fn consumer(provider: &Service, retry: &[&str]) -> Service {
    let url = provider.url("/");
    let mut args = vec![
        "--provider-url",
        url.as_str(),
        "--resilience",
        "on",
        "--circuit-failure-threshold",
        "1000000",
    ];
    args.extend_from_slice(retry);
    Service::start(CONSUMER, &args, &[]).await
}

/// The greetings the provider answered (every one a 500 here), from its metrics.
async fn provider_calls(provider: &Service) -> u64 {
    let text = client(Duration::from_secs(5))
        .get(provider.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with(r#"http_requests_total{route="/","#))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The consumer's own count of retries with `outcome`.
async fn consumer_retries(consumer: &Service, outcome: &str) -> u64 {
    let text = client(Duration::from_secs(5))
        .get(consumer.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("consumer_retries_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str())?.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

/// `count` requests to the consumer, `per_second` of them a second, all in flight
/// together as a user population would be; returns the fallback reasons seen.
async fn users(consumer: &Service, count: usize, per_second: u64) -> Vec<String> {
    let http = client(Duration::from_secs(10));
    let url = consumer.url("/invokeConsumedService");
    let start = tokio::time::Instant::now();
    let gap = Duration::from_micros(1_000_000 / per_second);
    let mut tasks = Vec::new();
    for n in 0..count {
        tokio::time::sleep_until(start + gap * n as u32).await;
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let res = http.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200, "the fallback is a 200");
            res.headers()
                .get("x-fallback-reason")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string()
        }));
    }
    let mut reasons = Vec::new();
    for task in tasks {
        reasons.push(task.await.unwrap());
    }
    reasons
}

#[tokio::test]
async fn a_failing_call_is_tried_once_and_retried_n_times() {
    let provider = failing_provider().await;
    let consumer = consumer(
        &provider,
        &[
            "--retries",
            "3",
            "--retry-budget",
            "none",
            "--retry-backoff-ms",
            "20",
        ],
    )
    .await;
    let reasons = users(&consumer, 1, 1).await;
    assert_eq!(reasons, ["provider-error"]);
    assert_eq!(provider_calls(&provider).await, 4, "1 call + 3 retries");
    assert_eq!(consumer_retries(&consumer, "sent").await, 3);
}

#[tokio::test]
async fn without_retries_a_failing_call_is_tried_once() {
    let provider = failing_provider().await;
    let consumer = consumer(&provider, &[]).await;
    users(&consumer, 3, 50).await;
    assert_eq!(provider_calls(&provider).await, 3);
    assert_eq!(consumer_retries(&consumer, "sent").await, 0);
}

#[tokio::test]
async fn retry_waits_are_bounded_by_the_backoff_cap() {
    let provider = failing_provider().await;
    // Two retries, each waiting at most 150 ms (the cap), never the uncapped 300 ms.
    let consumer = consumer(
        &provider,
        &[
            "--retries",
            "2",
            "--retry-budget",
            "none",
            "--retry-backoff-ms",
            "150",
            "--retry-backoff-max-ms",
            "150",
        ],
    )
    .await;
    let mut longest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        users(&consumer, 1, 1).await;
        longest = longest.max(started.elapsed());
    }
    // 2 × 150 ms of backoff at most, plus a margin for a loaded machine.
    assert!(longest < Duration::from_millis(300 + 400), "{longest:?}");
    assert_eq!(provider_calls(&provider).await, 15);
}

/// The retry storm: under an outage, naive retries multiply the provider's calls by
/// `1 + retries`; a 10 % budget keeps them to the requests plus 10 % plus the floor.
#[tokio::test]
async fn the_retry_budget_caps_what_an_outage_costs_the_provider() {
    const REQUESTS: u64 = 100;
    const PER_SECOND: u64 = 50;
    let retry = |budget| {
        [
            "--retries",
            "3",
            "--retry-backoff-ms",
            "10",
            "--retry-backoff-max-ms",
            "40",
            "--retry-budget",
            budget,
            "--retry-budget-floor",
            "3",
        ]
    };

    let provider = failing_provider().await;
    let naive = consumer(&provider, &retry("none")).await;
    users(&naive, REQUESTS as usize, PER_SECOND).await;
    let naive_calls = provider_calls(&provider).await;
    assert_eq!(
        naive_calls,
        REQUESTS * 4,
        "naive: every request tried 4 times"
    );

    let provider = failing_provider().await;
    let budgeted = consumer(&provider, &retry("10")).await;
    let started = Instant::now();
    users(&budgeted, REQUESTS as usize, PER_SECOND).await;
    // The budget's window slides over ten 100 ms slots, so a retry taken from the
    // floor is back after 1.0 to 1.1 s: over a run of S seconds the floor comes back up
    // to S + 2 times (at the start, after each second, and at a slot's edge at the end).
    let windows = started.elapsed().as_secs_f64().ceil() as u64 + 2;
    let budgeted_calls = provider_calls(&provider).await;
    // requests × (1 + 10 %) + the floor for each window.
    let bound = REQUESTS + REQUESTS / 10 + 3 * windows;
    assert!(
        (REQUESTS..=bound).contains(&budgeted_calls),
        "budgeted: {budgeted_calls} provider calls for {REQUESTS} requests (bound {bound}); naive {naive_calls}"
    );
    assert!(consumer_retries(&budgeted, "budget-exhausted").await > 0);
}

#[test]
fn out_of_range_retry_settings_are_refused_naming_the_flag() {
    for (flag, value) in [
        ("--retries", "11"),
        ("--retries", "-1"),
        ("--retry-backoff-ms", "0"),
        ("--retry-backoff-max-ms", "20000"),
        ("--retry-budget", "150"),
        ("--retry-budget", "lots"),
        ("--retry-budget-floor", "-2"),
    ] {
        let output = run_to_exit(
            CONSUMER,
            &["--port", "0", flag, value],
            &[],
            Duration::from_secs(10),
        );
        assert_one_line_error(&output, &[flag]);
    }
    let output = run_to_exit(
        CONSUMER,
        &[
            "--port",
            "0",
            "--retry-backoff-ms",
            "500",
            "--retry-backoff-max-ms",
            "100",
        ],
        &[],
        Duration::from_secs(10),
    );
    assert_one_line_error(
        &output,
        &["--retry-backoff-max-ms (100)", "--retry-backoff-ms (500)"],
    );
}

#[test]
fn a_bad_retry_variable_is_refused_naming_it() {
    let output = run_to_exit(
        CONSUMER,
        &["--port", "0"],
        &[("RETRIES", "99")],
        Duration::from_secs(10),
    );
    assert_one_line_error(&output, &["--retries"]);
}
