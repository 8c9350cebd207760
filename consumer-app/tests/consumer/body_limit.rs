//! A provider that streams an endless 200 body (issue 20 §7): the consumer reads at
//! most `--max-body-bytes` of it, in both modes, and its memory stays bounded. The naive
//! consumer answers 500 naming the cause; the resilient one falls back, reason
//! `provider-error`.

use super::CONSUMER;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use test_kit::service::{Service, client};

/// What the stub sends at most per connection (bounds the test if the limit is missing).
const STUB_CAP: u64 = 2 << 30;

/// A provider answering every request with a 200 whose chunked body never ends (until
/// the client leaves, or [`STUB_CAP`]). Returns its URL and the bytes it sent so far.
fn endless_provider() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n",
                );
                let chunk = vec![b'a'; 64 * 1024];
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                let mut total = 0;
                while total < STUB_CAP && stream.write_all(&framed).is_ok() {
                    total += chunk.len() as u64;
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (url, sent)
}

/// The consumer's peak resident memory so far (VmHWM), in MiB (/proc).
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

async fn against_endless_body(resilience: &str) -> (u16, Option<String>, String, u64, u64) {
    let (url, sent) = endless_provider();
    let consumer = Service::start(
        CONSUMER,
        &[
            "--provider-url",
            &url,
            "--resilience",
            resilience,
            "--call-timeout-ms",
            "5000",
        ],
        &[],
    )
    .await;
    let before = rss_mib(consumer.pid());
    let started = Instant::now();
    let res = client(Duration::from_secs(60))
        .get(consumer.url("/invokeConsumedService"))
        .send()
        .await
        .expect("an answer");
    let status = res.status().as_u16();
    let reason = res
        .headers()
        .get("x-fallback-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = String::new();
    let mut res = res;
    // Bounded read of the answer (it could be the endless body passed on).
    while let Ok(Some(chunk)) = res.chunk().await {
        body.push_str(&String::from_utf8_lossy(&chunk));
        if body.len() > 1 << 20 {
            break;
        }
    }
    let after = rss_mib(consumer.pid());
    eprintln!(
        "{resilience}: HTTP {status} after {:?}; consumer peak RSS {before} MiB before, {after} MiB after; provider sent {} MiB",
        started.elapsed(),
        sent.load(Ordering::Relaxed) >> 20
    );
    (status, reason, body, after, before)
}

#[tokio::test]
async fn the_naive_consumer_reads_a_bounded_body_and_names_the_cause() {
    let (status, reason, body, after, before) = against_endless_body("off").await;
    assert_eq!(status, 500, "{}", &body[..body.len().min(300)]);
    assert_eq!(reason, None);
    assert!(
        body.contains("the provider's body is larger than 1048576 bytes (--max-body-bytes)"),
        "{body}"
    );
    assert!(
        after < before + 64,
        "peak RSS grew from {before} to {after} MiB"
    );
}

#[tokio::test]
async fn the_resilient_consumer_falls_back_on_a_body_over_the_limit() {
    let (status, reason, body, after, before) = against_endless_body("on").await;
    assert_eq!(status, 200, "{}", &body[..body.len().min(300)]);
    assert_eq!(
        reason.as_deref(),
        Some("provider-error"),
        "{}",
        &body[..body.len().min(300)]
    );
    assert!(
        after < before + 64,
        "peak RSS grew from {before} to {after} MiB"
    );
}
