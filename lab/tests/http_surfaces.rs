//! The lab's HTTP surfaces (the dashboard; `lab traffic --serve`'s impact endpoint)
//! against hostile clients and random requests, as real processes on 127.0.0.1:
//!
//! - a thousand idle, half-sent and event-stream connections, a 10 MB URL and a 16 MB
//!   header: a normal client is answered during and after, readers above the stream cap
//!   get 503 with `Retry-After`, the oversized requests get 414/431 (or a close) without
//!   their bytes echoed, and the lab's threads, descriptors and memory stay bounded and
//!   come back once the clients leave;
//! - the same with 300 clients against a dashboard under `ulimit -n 200` (where tiny_http
//!   lost its listener for good);
//! - random bytes and random requests: never a 5xx other than the documented 503s, never
//!   a crash, never an echo of a long token from the URL, and a good request answered
//!   after each.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Lab;
use common::dashboard::Live;
use common::hostile::{Crowd, caps, exchange, oversized, polite_get, serve_traffic, usage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn dashboard(lab: &Lab) -> (Live, SocketAddr) {
    lab.up(&["--mode", "after"]);
    let mut live = Live::start(lab.command(&[
        "dashboard",
        "--addr",
        "127.0.0.1:0",
        "--rate",
        "5",
        "--duration",
        "180",
    ]));
    let url = live.url();
    let addr = url.trim_start_matches("http://").parse().expect("IP:PORT");
    (live, addr)
}

/// What a normal client must get from each surface. (Descriptors during the crowd: the
/// connection cap, plus up to half of it for 503s being written, plus a few.)
struct Surface {
    addr: SocketAddr,
    pid: u32,
    /// A path a normal client reads, and whether an answer to it is the right one.
    good: &'static str,
    is_good: fn(&common::hostile::Answer) -> bool,
    has_stream: bool,
}

fn good_state(a: &common::hostile::Answer) -> bool {
    a.status == 200 && a.text.contains("\"seq\"")
}

fn good_users(a: &common::hostile::Answer) -> bool {
    // 200 or 503 with the verdict: both are the endpoint's own answer.
    (a.status == 200 || a.status == 503) && a.text.contains("\"verdict\"")
}

fn assert_normal_client_served(surface: &Surface, when: &str) {
    let started = Instant::now();
    let answer = polite_get(surface.addr, surface.good, Duration::from_secs(6))
        .unwrap_or_else(|e| panic!("{when}: {e}"));
    assert!(
        (surface.is_good)(&answer),
        "{when}: GET {} got {} {}",
        surface.good,
        answer.status,
        answer.text.chars().take(300).collect::<String>()
    );
    eprintln!(
        "{when}: GET {} answered in {:?}",
        surface.good,
        started.elapsed()
    );
}

/// `crowd` hostile connections (readers above the stream cap, half-sent heads, idle)
/// against a surface whose process has `nofile` descriptors at most.
fn hostile_clients_leave_the_surface_serving(surface: &Surface, crowd: usize, nofile: u64) {
    let (connection_cap, stream_cap) = caps(nofile);
    let before = usage(surface.pid);
    assert_normal_client_served(surface, "before");
    let started = Instant::now();

    let size = crowd;
    let mut crowd = Crowd::default();
    let readers = stream_cap + 44;
    let half_sent = (size - readers) / 2;
    crowd.readers(surface.addr, readers);
    crowd.half_sent(surface.addr, half_sent);
    crowd.idle(surface.addr, size - readers - half_sent);
    let big_url = oversized(surface.addr, 10 << 20, true);
    let big_header = oversized(surface.addr, 16 << 20, false);
    eprintln!("{} hostile connections held open", crowd.len());
    if surface.has_stream {
        let ok = crowd.reader_statuses.iter().filter(|s| **s == 200).count();
        let busy = crowd.reader_statuses.iter().filter(|s| **s == 503).count();
        assert!(ok <= stream_cap, "{ok} readers above a cap of {stream_cap}");
        assert!(
            busy >= readers - stream_cap,
            "readers refused: {busy}; {:?}",
            crowd.reader_statuses
        );
    }

    // During: answered, with bounded threads, descriptors and memory.
    std::thread::sleep(Duration::from_millis(1200));
    assert_normal_client_served(surface, "during");
    let during = usage(surface.pid);
    eprintln!("usage before {before:?}, during {during:?}");
    assert!(
        during.threads <= before.threads + 4,
        "threads: {before:?} -> {during:?}"
    );
    assert!(
        during.fds <= before.fds + (connection_cap + connection_cap / 2) as u64 + 16,
        "descriptors: {before:?} -> {during:?}"
    );
    assert!(
        during.rss_kb <= before.rss_kb + 128 * 1024,
        "memory: {before:?} -> {during:?}"
    );

    for (what, client) in [("a 10 MB URL", big_url), ("a 16 MB header", big_header)] {
        let (sent, answer) = client.join().expect("the oversized client");
        eprintln!("{what}: {sent} bytes sent, answer {}", answer.status);
        assert!(
            [0, 400, 414, 431].contains(&answer.status),
            "{what}: {} {}",
            answer.status,
            answer.text.chars().take(200).collect::<String>()
        );
        assert!(!answer.text.contains(&"a".repeat(64)), "{what} was echoed");
    }
    assert_normal_client_served(surface, "after the oversized requests");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );

    // After: the clients leave; everything comes back.
    drop(crowd);
    std::thread::sleep(Duration::from_millis(1500));
    assert_normal_client_served(surface, "after");
    let after = usage(surface.pid);
    eprintln!("usage after {after:?}");
    assert!(
        after.threads <= before.threads + 1,
        "threads: {before:?} -> {after:?}"
    );
    assert!(
        after.fds <= before.fds + 8,
        "descriptors: {before:?} -> {after:?}"
    );
    if surface.has_stream {
        let answer = exchange(
            surface.addr,
            b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_millis(1500),
        )
        .expect("a reader after the crowd");
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(
            answer.text.matches("event: state").count() >= 2,
            "{}",
            answer.text
        );
    }
}

#[test]
fn the_dashboard_serves_a_normal_client_through_a_thousand_hostile_ones_and_after() {
    let lab = Lab::new();
    let (live, addr) = dashboard(&lab);
    hostile_clients_leave_the_surface_serving(
        &Surface {
            addr,
            pid: live.pid(),
            good: "/state.json",
            is_good: good_state,
            has_stream: true,
        },
        1000,
        nofile(),
    );
}

#[test]
fn the_impact_endpoint_serves_a_normal_client_through_a_thousand_hostile_ones_and_after() {
    let lab = Lab::new();
    lab.up(&["--mode", "after"]);
    let (job, addr) = serve_traffic(&lab, "20", "120");
    hostile_clients_leave_the_surface_serving(
        &Surface {
            addr,
            pid: job.pid(),
            good: "/users/ok?seconds=5",
            is_good: good_users,
            has_stream: false,
        },
        1000,
        nofile(),
    );
}

/// The descriptor limit the tests (and the lab processes they start) run with.
fn nofile() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft)
}

#[test]
fn the_dashboard_keeps_serving_under_ulimit_n_200_through_300_hostile_clients() {
    let lab = Lab::new();
    lab.up(&["--mode", "after"]);
    let lab_command = lab.command(&[
        "dashboard",
        "--addr",
        "127.0.0.1:0",
        "--rate",
        "5",
        "--duration",
        "180",
    ]);
    // The same command under `ulimit -n 200` (the shell execs the lab in its place).
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "ulimit -n 200 && exec \"$0\" \"$@\""])
        .arg(lab_command.get_program())
        .args(lab_command.get_args());
    for (key, value) in lab_command.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let mut live = Live::start(command);
    let url = live.url();
    let addr = url.trim_start_matches("http://").parse().expect("IP:PORT");
    hostile_clients_leave_the_surface_serving(
        &Surface {
            addr,
            pid: live.pid(),
            good: "/state.json",
            is_good: good_state,
            has_stream: true,
        },
        300,
        200,
    );
}

/// A token no answer may repeat whole (a 400 quotes at most 32 characters).
const MARK: &str = "zq7markzq7markzq7markzq7markzq7markzq7mark";

fn request_strategy(paths: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let method = prop_oneof![
        Just("GET".to_string()),
        Just("HEAD".to_string()),
        Just("POST".to_string()),
        Just("DELETE".to_string()),
        "[A-Z]{1,12}",
        "[ -~]{0,8}",
    ];
    let path = prop_oneof![
        proptest::sample::select(paths).prop_map(str::to_string),
        "(/[a-zA-Z0-9%._~-]{0,12}){1,4}".prop_map(|p| format!("{p}/{MARK}")),
        "[ -~]{0,40}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        "(seconds|max_error_rate|x)=[-0-9.eE%a-z]{0,12}".prop_map(|q| format!("?{q}")),
        "[ -~]{0,30}".prop_map(|q| format!("?{q}&seconds={MARK}")),
    ];
    let version = prop_oneof![
        Just("HTTP/1.1"),
        Just("HTTP/1.0"),
        Just("HTTP/2.0"),
        Just("HTTP/9.9"),
        Just("http/1.1"),
        Just(""),
    ];
    let headers = proptest::collection::vec(("[!-9;-~]{0,16}", "[ -~\\t]{0,40}"), 0..6);
    let body = proptest::collection::vec(any::<u8>(), 0..200);
    let structured = (method, path, query, version, headers, any::<bool>(), body).prop_map(
        |(method, path, query, version, headers, with_length, body)| {
            let mut text = format!("{method} {path}{query} {version}\r\nHost: 127.0.0.1\r\n");
            for (name, value) in headers {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            if with_length {
                text.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            text.push_str("\r\n");
            let mut bytes = text.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        },
    );
    let raw = proptest::collection::vec(any::<u8>(), 0..2048);
    let prefixed = (
        proptest::sample::select(paths),
        proptest::collection::vec(any::<u8>(), 0..512),
    )
        .prop_map(|(path, tail)| {
            let mut bytes = format!("GET {path} HTTP/1.1\r\n").into_bytes();
            bytes.extend_from_slice(&tail);
            bytes
        });
    prop_oneof![4 => structured, 1 => raw, 1 => prefixed]
}

fn random_requests_against(surface: &Surface, paths: &'static [&'static str], cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&request_strategy(paths), |request| {
        let answer = exchange(surface.addr, &request, Duration::from_secs(7))
            .ok_or_else(|| TestCaseError::fail("cannot connect: the server is gone"))?;
        let documented_503 = answer.status == 503
            && (answer.text.contains("\"verdict\":\"users affected\"")
                || answer.header("retry-after").is_some());
        prop_assert!(
            answer.status < 500 || documented_503,
            "a {} to {:?}: {}",
            answer.status,
            String::from_utf8_lossy(&request[..request.len().min(200)]),
            answer.text.chars().take(300).collect::<String>()
        );
        prop_assert!(!answer.text.contains(MARK), "echoed: {}", answer.text);
        let good = polite_get(surface.addr, surface.good, Duration::from_secs(6))
            .map_err(TestCaseError::fail)?;
        prop_assert!(
            (surface.is_good)(&good),
            "then: {} {}",
            good.status,
            good.text
        );
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    let left = usage(surface.pid);
    eprintln!("after {cases} random requests: {left:?}");
}

#[test]
fn random_requests_to_the_dashboard_never_crash_it_nor_get_a_5xx() {
    let lab = Lab::new();
    let (live, addr) = dashboard(&lab);
    let surface = Surface {
        addr,
        pid: live.pid(),
        good: "/state.json",
        is_good: good_state,
        has_stream: true,
    };
    random_requests_against(&surface, &["/", "/state.json", "/events", "/nothing"], 300);
}

#[test]
fn random_requests_to_the_impact_endpoint_never_crash_it_nor_get_a_5xx() {
    let lab = Lab::new();
    lab.up(&["--mode", "after"]);
    let (job, addr) = serve_traffic(&lab, "20", "180");
    let surface = Surface {
        addr,
        pid: job.pid(),
        good: "/users/impact?seconds=5",
        is_good: |a| a.status == 200 && a.text.contains("\"sent\""),
        has_stream: false,
    };
    random_requests_against(
        &surface,
        &[
            "/users/ok",
            "/users/impact",
            "/users/ok?seconds=5&max_error_rate=1",
            "/x",
        ],
        300,
    );
}
