//! Toxics on the wire, through a real fault-proxy process: what each does to bytes,
//! timing and the connection's end, on new and already open connections.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    Api, connect, echo_server, greeting_server, http_server, metric, read_response, request, start,
};

/// Sends `msg` and reads the same number of bytes back; how long that took.
fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Duration {
    let t = Instant::now();
    s.write_all(msg).expect("write");
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).expect("read back");
    assert_eq!(back, msg);
    t.elapsed()
}

#[test]
fn bytes_pass_unchanged_both_ways() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    let mut s = connect(&listen, Duration::from_secs(10));
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut reader = s.try_clone().unwrap();
    let expected = data.clone();
    let got = std::thread::spawn(move || {
        let mut back = vec![0; expected.len()];
        reader.read_exact(&mut back).expect("read everything back");
        back == expected
    });
    s.write_all(&data).unwrap();
    assert!(got.join().unwrap(), "bytes changed on the way");
    // Half-close: the client's FIN reaches the server, whose FIN comes back.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let metrics = api.get("/metrics").text;
    let sent = metric(
        &metrics,
        &format!(
            "toxiproxy_proxy_sent_bytes_total{{direction=\"upstream\",listener=\"{listen}\",proxy=\"echo\",upstream=\"{}\"}}",
            api.get("/proxies/echo").json()["upstream"]
                .as_str()
                .unwrap()
        ),
    );
    assert_eq!(sent, 2_000_000.0, "{metrics}");
}

#[test]
fn latency_delays_new_and_open_connections_and_is_removed_live() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    let mut open = connect(&listen, Duration::from_secs(5));
    assert!(round_trip(&mut open, b"warm") < Duration::from_millis(100));
    api.toxic("echo", r#"{"type":"latency","attributes":{"latency":200}}"#);
    let mut fresh = connect(&listen, Duration::from_secs(5));
    for s in [&mut open, &mut fresh] {
        for _ in 0..3 {
            let t = round_trip(s, b"ping");
            assert!(
                t >= Duration::from_millis(195) && t < Duration::from_millis(400),
                "{t:?}"
            );
        }
    }
    // Chunks sent 50 ms apart each arrive about 200 ms after they were sent, not 200 ms
    // after the one before: latency does not add up (if it did, the fourth would arrive
    // 650 ms after it was sent). Measured from each chunk's own send time, so a busy
    // machine's late wake-ups between the sends do not count.
    let t0 = Instant::now();
    let mut reader = fresh.try_clone().unwrap();
    let arrivals = std::thread::spawn(move || {
        let mut at = Vec::new();
        let mut b = [0u8; 1];
        for _ in 0..4 {
            reader.read_exact(&mut b).unwrap();
            at.push(t0.elapsed());
        }
        at
    });
    let mut sent = Vec::new();
    for _ in 0..4 {
        sent.push(t0.elapsed());
        fresh.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let at = arrivals.join().unwrap();
    let delays: Vec<Duration> = at.iter().zip(&sent).map(|(a, s)| *a - *s).collect();
    assert!(
        delays
            .iter()
            .all(|d| *d >= Duration::from_millis(195) && *d < Duration::from_millis(400)),
        "each chunk's delay from its send: {delays:?}"
    );
    assert_eq!(
        api.delete("/proxies/echo/toxics/latency_downstream").status,
        204
    );
    assert!(round_trip(&mut open, b"fast") < Duration::from_millis(100));
}

#[test]
fn toxicity_zero_never_applies_and_upstream_latency_counts_too() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic(
        "echo",
        r#"{"type":"latency","toxicity":0,"attributes":{"latency":500}}"#,
    );
    for _ in 0..5 {
        let mut s = connect(&listen, Duration::from_secs(5));
        assert!(round_trip(&mut s, b"x") < Duration::from_millis(200));
    }
    api.toxic(
        "echo",
        r#"{"type":"latency","stream":"upstream","attributes":{"latency":150}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    let t = round_trip(&mut s, b"y");
    assert!(
        t >= Duration::from_millis(145) && t < Duration::from_millis(400),
        "{t:?}"
    );
}

#[test]
fn toxicity_is_decided_once_per_connection() {
    let fp = start(&["-seed", "11"]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic(
        "echo",
        r#"{"type":"latency","toxicity":0.5,"attributes":{"latency":120}}"#,
    );
    let mut delayed = 0;
    for _ in 0..30 {
        let mut s = connect(&listen, Duration::from_secs(5));
        let slow: Vec<bool> = (0..2)
            .map(|_| round_trip(&mut s, b"t") >= Duration::from_millis(110))
            .collect();
        assert_eq!(
            slow[0], slow[1],
            "a connection was delayed on one round trip only"
        );
        delayed += usize::from(slow[0]);
    }
    assert!(
        (6..=24).contains(&delayed),
        "{delayed} of 30 connections delayed at toxicity 0.5"
    );
}

#[test]
fn bandwidth_limits_the_rate() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic("echo", r#"{"type":"bandwidth","attributes":{"rate":50}}"#); // 50 KB/s
    let mut s = connect(&listen, Duration::from_secs(10));
    let t = round_trip(&mut s, &vec![7u8; 50_000]);
    // 50 000 bytes at 50 000 bytes/s: about a second.
    assert!(
        t >= Duration::from_millis(900) && t < Duration::from_millis(2000),
        "{t:?}"
    );
}

#[test]
fn timeout_drops_data_then_closes_and_zero_holds_forever() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic("echo", r#"{"type":"timeout","attributes":{"timeout":300}}"#);
    let mut s = connect(&listen, Duration::from_secs(5));
    let t = Instant::now();
    s.write_all(b"lost").unwrap();
    let mut buf = [0u8; 8];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "data came through a timeout toxic");
    let closed = t.elapsed();
    assert!(
        closed >= Duration::from_millis(280) && closed < Duration::from_millis(1500),
        "{closed:?}"
    );

    api.post(
        "/proxies/echo/toxics/timeout_downstream",
        r#"{"attributes":{"timeout":0}}"#,
    );
    let mut s = connect(&listen, Duration::from_millis(700));
    s.write_all(b"held").unwrap();
    let err = s
        .read(&mut buf)
        .expect_err("a timeout of 0 holds the data and the connection");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // Removing the toxic lets data flow again on the same connection.
    api.delete("/proxies/echo/toxics/timeout_downstream");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(round_trip(&mut s, b"back") < Duration::from_secs(1));
}

#[test]
fn reset_peer_resets_the_connection() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic(
        "echo",
        r#"{"type":"reset_peer","attributes":{"timeout":100}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    let t = Instant::now();
    s.write_all(b"hello").unwrap();
    let mut buf = [0u8; 8];
    let err = s
        .read(&mut buf)
        .expect_err("expected a reset, got data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(95),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn limit_data_closes_after_n_bytes() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    api.toxic("echo", r#"{"type":"limit_data","attributes":{"bytes":10}}"#);
    let mut s = connect(&listen, Duration::from_secs(5));
    s.write_all(b"0123456789abcdef").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert_eq!(got, b"0123456789");
}

#[test]
fn slicer_splits_and_spaces_the_data() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    // About 10 slices of ~10 bytes, 30 ms apart.
    api.toxic(
        "echo",
        r#"{"type":"slicer","attributes":{"average_size":10,"size_variation":3,"delay":30000}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    let msg: Vec<u8> = (0..100u8).collect();
    let t = Instant::now();
    s.write_all(&msg).unwrap();
    let mut got = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 256];
    while got.len() < msg.len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(got, msg);
    assert!(reads >= 5, "{reads} reads");
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn slow_close_delays_the_close() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("greet", &greeting_server(b"bye"));
    let mut s = connect(&listen, Duration::from_secs(5));
    let t = Instant::now();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(
        (got.as_slice(), t.elapsed() < Duration::from_millis(150)),
        (&b"bye"[..], true)
    );

    api.toxic(
        "greet",
        r#"{"type":"slow_close","attributes":{"delay":400}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    let t = Instant::now();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    let closed = t.elapsed();
    assert!(
        closed >= Duration::from_millis(390) && closed < Duration::from_millis(1500),
        "{closed:?}"
    );
}

#[test]
fn disabling_closes_the_listener_and_open_connections_and_enabling_reopens() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    let mut open = connect(&listen, Duration::from_secs(5));
    round_trip(&mut open, b"hi");
    assert_eq!(
        api.post("/proxies/echo", r#"{"enabled":false}"#).status,
        200
    );
    let mut buf = [0u8; 4];
    match open.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("open connection not closed: {other:?}"),
    }
    assert_eq!(
        TcpStream::connect(&listen).map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused)
    );
    assert_eq!(api.post("/proxies/echo", r#"{"enabled":true}"#).status, 200);
    let mut again = connect(&listen, Duration::from_secs(5));
    round_trip(&mut again, b"back");
}

#[test]
fn http_status_answers_a_fraction_of_requests_without_the_upstream() {
    let fp = start(&["-seed", "42"]);
    let api = Api::new(&fp);
    let (upstream, count) = http_server();
    let listen = api.proxy("web", &upstream);
    api.toxic(
        "web",
        r#"{"type":"http_status","toxicity":0.5,"attributes":{"status":503,"body":"injected","headers":{"Retry-After":"1"}}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    let mut faults = 0;
    for i in 0..200 {
        let (status, body) = request(&mut s, &format!("/r{i}"));
        match status {
            503 => {
                assert_eq!(body, "injected");
                faults += 1;
            }
            200 => assert_eq!(body, "ok"),
            other => panic!("status {other}"),
        }
    }
    assert!(
        (60..=140).contains(&faults),
        "{faults} of 200 answered 503 at toxicity 0.5"
    );
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        200 - faults,
        "the upstream saw an answered request"
    );
    // A request with a body is answered whole, and the next one still works.
    api.post(
        "/proxies/web/toxics/http_status_upstream",
        r#"{"toxicity":1}"#,
    );
    write!(
        s,
        "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    )
    .unwrap();
    assert_eq!(read_response(&mut s).0, 503);
    api.delete("/proxies/web/toxics/http_status_upstream");
    assert_eq!(request(&mut s, "/after"), (200, "ok".to_string()));
    let metrics = api.get("/metrics").text;
    assert_eq!(
        metric(&metrics, "fault_proxy_http_answers_total{proxy=\"web\"}"),
        (faults + 1) as f64
    );
}

#[test]
fn http_latency_delays_each_request() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let (upstream, _) = http_server();
    let listen = api.proxy("web", &upstream);
    api.toxic(
        "web",
        r#"{"type":"http_latency","attributes":{"latency":150}}"#,
    );
    let mut s = connect(&listen, Duration::from_secs(5));
    for i in 0..3 {
        let t = Instant::now();
        assert_eq!(request(&mut s, &format!("/{i}")).0, 200);
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(145) && took < Duration::from_millis(400),
            "{took:?}"
        );
    }
}

#[test]
fn connections_above_the_cap_are_closed_at_once_and_counted() {
    let fp = start(&["--max-connections", "4"]);
    let api = Api::new(&fp);
    let listen = api.proxy("echo", &echo_server());
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| connect(&listen, Duration::from_secs(5)))
        .collect();
    for s in &mut held {
        round_trip(s, b"in");
    }
    for _ in 0..6 {
        let mut extra = connect(&listen, Duration::from_secs(5));
        let _ = extra.write_all(b"x");
        let mut buf = [0u8; 1];
        let r = extra.read(&mut buf);
        assert!(
            matches!(r, Ok(0) | Err(_)),
            "a connection above the cap was served: {r:?}"
        );
    }
    let metrics = api.get("/metrics").text;
    assert_eq!(
        metric(
            &metrics,
            "fault_proxy_connections_refused_total{proxy=\"echo\"}"
        ),
        6.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "fault_proxy_connections_active{proxy=\"echo\"}"),
        4.0
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let mut s = connect(&listen, Duration::from_secs(5));
    round_trip(&mut s, b"room again");
}
