//! The presenter's cockpit (`lab dashboard`'s controls) against real local labs: each
//! control changes the lab (the provider's process gone and back, the consumer's mode,
//! a toxic in the fault proxy's API, the users) and shows as an event; the system
//! picture shows the kill; refused requests (no secret, wrong secret, another origin,
//! another Host) get 403 and change nothing; an experiment started from the page streams
//! its log and ends with its verdict and a report with the users in it; a slow action
//! (a restart waiting for readiness) is answered at once and holds off the next one (409).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::dashboard::{Live, follow, state};
use common::{Lab, alive, get, require_bins};
use serde_json::Value;

/// `lab up` with the fault proxy, every port free.
fn up_with_proxy(lab: &Lab, mode: &str) {
    lab.up(&[
        "--mode",
        mode,
        "--fault-proxy",
        "--fault-proxy-port",
        "0",
        "--fault-proxy-link-port",
        "0",
    ]);
}

fn dashboard(lab: &Lab, extra: &[&str]) -> (Live, String) {
    let mut args = vec!["dashboard", "--addr", "127.0.0.1:0", "--duration", "300"];
    args.extend_from_slice(extra);
    let mut live = Live::start(lab.command(&args));
    let url = live.url();
    (live, url)
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().expect("IP:PORT")
}

/// The secret the page's form carries.
fn secret_of(url: &str) -> String {
    let (status, page, _) = get(&format!("{url}/")).expect("GET /");
    assert_eq!(status, 200);
    let marker = r#"name="secret" value=""#;
    let at = page.find(marker).expect("the page has the secret field") + marker.len();
    page[at..].split('"').next().unwrap_or("").to_string()
}

/// One HTTP/1.1 request written as given (so Host and Origin are exactly the test's):
/// the status and the body.
fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "{head}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A control as the page's form sends it (same origin, the secret).
fn control(url: &str, secret: &str, action: &str, extra: &str) -> (u16, String) {
    let addr = addr_of(url);
    raw(
        addr,
        &format!("POST /control HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}"),
        &format!("action={action}&secret={secret}{extra}"),
    )
}

/// The events of the (only) run.
fn events(url: &str) -> Vec<Value> {
    state(url)["runs"][0]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Sends `action` and waits for its outcome event (`<label>: done ...` or `: failed`);
/// returns its text after checking it is done.
fn act(url: &str, secret: &str, action: &str, label: &str) -> String {
    let (status, body) = control(url, secret, action, "");
    assert_eq!(status, 303, "{action}: {body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ended = events(url).into_iter().find_map(|e| {
            let text = e["text"].as_str()?.to_string();
            (e["kind"] == "control"
                && text.starts_with(label)
                && (text.contains(": done") || text.contains(": failed")))
            .then_some((text, e["verdict"].clone()))
        });
        if let Some((text, verdict)) = ended {
            assert_eq!(verdict, "completed", "{text}");
            // The control's own event came first, the moment it was asked.
            assert!(
                events(url).iter().any(|e| {
                    let text = e["text"].as_str().unwrap_or("");
                    text.starts_with(label) && text.ends_with(": asked")
                }),
                "no `asked` event for {label}"
            );
            return text;
        }
        assert!(Instant::now() < deadline, "{action} never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn toxics(api: &str) -> Vec<String> {
    let (status, body, _) = get(&format!("{api}/proxies/provider/toxics")).expect("toxics");
    assert_eq!(status, 200, "{body}");
    let list: Vec<Value> = serde_json::from_str(&body).expect("JSON");
    list.iter()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect()
}

fn stdout_of(lab: &Lab, args: &[&str]) -> String {
    lab.run(args)
        .expect_code(0, "lab")
        .stdout
        .trim()
        .to_string()
}

fn system(url: &str) -> String {
    state(url)["system_html"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn each_control_changes_the_lab_and_shows_on_the_timeline_and_in_the_picture() {
    require_bins(&["fault-proxy"]);
    let lab = Lab::new();
    up_with_proxy(&lab, "before");
    let api = stdout_of(&lab, &["address", "--fault-proxy"]);
    let (live, url) = dashboard(&lab, &["--rate", "0"]);
    let secret = secret_of(&url);
    assert_eq!(secret.len(), 32, "{secret}");

    // The page: the picture with its boxes in words, the buttons (a form, no script
    // needed), the projector view.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !system(&url).contains(r#"data-box="provider" data-health="UP""#) {
        assert!(Instant::now() < deadline, "{}", system(&url));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, page, _) = get(&format!("{url}/")).expect("GET /");
    for needle in [
        r#"<svg class="system""#,
        r#"data-box="users""#,
        r#"data-box="consumer""#,
        r#"data-box="fault-proxy""#,
        r#"data-box="provider" data-health="UP""#,
        "provider UP",
        "mode: before (naive)",
        "pid ",
        r#"<form id="control-form" method="post" action="/control">"#,
        r#"value="kill-provider""#,
        r#"<option>local.json</option>"#,
        r#"<noscript><meta http-equiv="refresh" content="5"></noscript>"#,
    ] {
        assert!(page.contains(needle), "{needle} missing in the page");
    }
    let (_, projector, _) = get(&format!("{url}/?view=projector")).expect("projector");
    assert!(projector.contains(r#"<body class="projector">"#));
    assert!(projector.contains(r#"name="view" value="projector""#));

    // Users.
    act(&url, &secret, "start-users", "start the users");
    assert!(state(&url)["users"].as_f64().is_some());
    let deadline = Instant::now() + Duration::from_secs(20);
    while state(&url)["runs"][0]["latest"]["ok"]
        .as_f64()
        .unwrap_or(0.0)
        < 5.0
    {
        assert!(
            Instant::now() < deadline,
            "the users' requests never showed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(system(&url).contains(" req/s<"), "{}", system(&url));

    // Kill: the provider's process is gone, the picture says DOWN; the page showed it
    // this long after the click (a stream opened before: bench/RESULTS.md).
    let provider = lab.pid("my-provider-app").expect("provider pid");
    let (seen, down_at) = mpsc::channel();
    let stream_url = url.clone();
    let watcher = std::thread::spawn(move || {
        follow(&stream_url, Duration::from_secs(30), |s| {
            let down = s["system_html"]
                .as_str()
                .unwrap_or("")
                .contains(r#"data-box="provider" data-health="DOWN""#);
            if down {
                let _ = seen.send(Instant::now());
            }
            down
        });
    });
    std::thread::sleep(Duration::from_millis(700));
    let clicked = Instant::now();
    act(&url, &secret, "kill-provider", "kill the provider");
    watcher.join().expect("the stream showed the provider down");
    let shown = down_at
        .recv()
        .expect("time")
        .saturating_duration_since(clicked);
    eprintln!("cockpit: kill clicked -> provider DOWN in the page's stream after {shown:?}");
    assert!(!alive(provider), "the provider still runs");
    assert!(lab.pid("my-provider-app").is_none());
    let picture = system(&url);
    assert!(
        picture.contains(r#"data-box="provider" data-health="DOWN""#)
            && picture.contains("provider DOWN")
            && picture.contains("killed: not in the lab"),
        "{picture}"
    );

    // Restore: a provider process again, ready.
    act(&url, &secret, "restore-provider", "restore the provider");
    let back = lab.pid("my-provider-app").expect("provider back");
    assert!(alive(back) && back != provider);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !system(&url).contains(r#"data-box="provider" data-health="UP""#) {
        assert!(Instant::now() < deadline, "{}", system(&url));
        std::thread::sleep(Duration::from_millis(100));
    }

    // Fix and break: the consumer's mode in the state and in the picture.
    act(&url, &secret, "fix", "fix the consumer");
    assert_eq!(lab.state().expect("state")["mode"], "after");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !system(&url).contains("mode: after (resilient)") {
        assert!(Instant::now() < deadline, "{}", system(&url));
        std::thread::sleep(Duration::from_millis(100));
    }
    act(&url, &secret, "break", "break the consumer");
    assert_eq!(lab.state().expect("state")["mode"], "before");

    // Faults: each toxic in the proxy's API, then gone; drawn where it acts.
    act(&url, &secret, "add-latency", "add 1500 ms latency");
    assert_eq!(toxics(&api), ["dashboard-latency"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !system(&url).contains("FAULT: provider: dashboard-latency") {
        assert!(Instant::now() < deadline, "{}", system(&url));
        std::thread::sleep(Duration::from_millis(100));
    }
    act(&url, &secret, "remove-latency", "remove the latency");
    assert!(toxics(&api).is_empty());
    act(&url, &secret, "add-errors", "add 503 errors");
    assert_eq!(toxics(&api), ["dashboard-errors"]);
    act(&url, &secret, "remove-errors", "remove the 503 errors");
    assert!(toxics(&api).is_empty());

    act(&url, &secret, "stop-users", "stop the users");
    assert!(state(&url)["users"].is_null());
    // No more requests: the users' rate falls to nothing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(&url)["runs"][0]["latest"]["ok"]
        .as_f64()
        .unwrap_or(1.0)
        > 0.0
    {
        assert!(Instant::now() < deadline, "the users still send");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Without JavaScript: the 303 goes back to the view the form came from.
    let addr = addr_of(&url);
    let (status, _) = raw(
        addr,
        &format!("POST /control HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}"),
        &format!("action=stop-users&secret={secret}&view=projector"),
    );
    assert_eq!(status, 303);

    live.interrupt();
    assert_eq!(live.wait(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_control_without_the_secret_or_from_elsewhere_is_refused_and_changes_nothing() {
    let lab = Lab::new();
    lab.up(&["--mode", "before"]);
    let (live, url) = dashboard(&lab, &["--rate", "0"]);
    let secret = secret_of(&url);
    let provider = lab.pid("my-provider-app").expect("provider pid");
    let addr = addr_of(&url);
    let here = format!("Host: {addr}\r\nOrigin: http://{addr}");
    let kill = |secret: &str| format!("action=kill-provider&secret={secret}");
    for (what, head, body, reason) in [
        (
            "no secret",
            format!("POST /control HTTP/1.1\r\n{here}"),
            "action=kill-provider".to_string(),
            "no secret",
        ),
        (
            "a wrong secret",
            format!("POST /control HTTP/1.1\r\n{here}"),
            kill("0123456789abcdef0123456789abcdef"),
            "wrong secret",
        ),
        (
            "another origin",
            format!("POST /control HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://evil.example"),
            kill(&secret),
            "another origin",
        ),
        (
            "a page of another site",
            format!("POST /control HTTP/1.1\r\nHost: {addr}\r\nSec-Fetch-Site: cross-site"),
            kill(&secret),
            "another site",
        ),
        (
            "a non-loopback Host (DNS rebinding)",
            format!(
                "POST /control HTTP/1.1\r\nHost: evil.example:{}\r\nOrigin: http://evil.example:{}",
                addr.port(),
                addr.port()
            ),
            kill(&secret),
            "not this machine's loopback",
        ),
        (
            "a LAN Host",
            format!(
                "POST /control HTTP/1.1\r\nHost: 192.168.1.2:{}",
                addr.port()
            ),
            kill(&secret),
            "not this machine's loopback",
        ),
    ] {
        let (status, answer) = raw(addr, &head, &body);
        assert_eq!(status, 403, "{what}: {answer}");
        assert!(answer.contains(reason), "{what}: {answer}");
    }
    // The page itself, asked for by another name: read-only, no secret in it.
    let (status, page) = raw(
        addr,
        &format!("GET / HTTP/1.1\r\nHost: evil.example:{}", addr.port()),
        "",
    );
    assert_eq!(status, 200);
    assert!(page.contains(r#"<svg class="system""#) || page.contains("No sample"));
    assert!(!page.contains(&secret) && !page.contains(r#"name="secret""#));
    // This lab has no fault proxy: the fault buttons say so and are disabled.
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let (_, page, _) = get(&format!("{url}/")).expect("GET /");
        if page.contains("disabled>") || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        page.contains(r#"value="add-latency" disabled>"#)
            && page.contains("needs <code>lab up --fault-proxy</code>"),
        "the fault buttons are live without a proxy"
    );
    // Not a form, or not a POST: refused too.
    assert_eq!(get(&format!("{url}/control")).expect("GET").0, 405);
    let (status, _) = raw(
        addr,
        &format!("POST /control HTTP/1.1\r\n{here}"),
        &format!("action=format-disk&secret={secret}"),
    );
    assert_eq!(status, 400);

    std::thread::sleep(Duration::from_millis(600));
    assert!(alive(provider), "a refused kill killed the provider");
    assert_eq!(lab.pid("my-provider-app"), Some(provider));
    let controls: Vec<Value> = events(&url)
        .into_iter()
        .filter(|e| e["kind"] == "control")
        .collect();
    assert!(controls.is_empty(), "{controls:?}");
    // The secret is per run: another dashboard's page has another one.
    let (other, other_url) = dashboard(&lab, &["--rate", "0"]);
    assert_ne!(secret_of(&other_url), secret);
    other.interrupt();
    other.wait(Duration::from_secs(15));
    live.interrupt();
    assert_eq!(live.wait(Duration::from_secs(15)), Some(0));
}

#[test]
fn the_demo_page_has_no_controls_and_its_report_has_the_users_of_both_runs() {
    require_bins(&["chaos-runner"]);
    let lab = Lab::new();
    let mut live = Live::start(lab.command(&[
        "demo",
        "--pause",
        "1",
        "--provider-port",
        "0",
        "--consumer-port",
        "0",
        "--dashboard",
        "--dashboard-addr",
        "127.0.0.1:0",
        "--dashboard-linger",
        "1",
    ]));
    let url = live.url();
    let (_, page, _) = get(&format!("{url}/")).expect("GET /");
    assert!(
        !page.contains(r#"<form id="control-form""#),
        "the demo's page has buttons"
    );
    let addr = addr_of(&url);
    let (status, answer) = raw(
        addr,
        &format!("POST /control HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}"),
        "action=kill-provider&secret=x",
    );
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("no controls"), "{answer}");

    // The demo's report has the users of both runs, each on its own run's axis.
    live.line_with("both runs side by side", Duration::from_secs(180));
    let report = std::fs::read_to_string(lab.state_dir().join("demo/report.html"))
        .expect("the demo's report");
    assert_eq!(report.matches("<h3>The users</h3>").count(), 2);
    assert_eq!(report.matches(r#"class="users-chart""#).count(), 2);
    assert_eq!(
        report
            .matches(r#"<tr data-window="from the method to the end">"#)
            .count(),
        2
    );
    live.interrupt();
    live.wait(Duration::from_secs(30));
}

/// local.json with a 3 s pause instead of the tutorial's 15 s.
fn quick_experiments(dir: &std::path::Path) {
    let text = std::fs::read_to_string(test_kit::repo::root().join("experiments/local.json"))
        .expect("local.json");
    let mut experiment: Value = serde_json::from_str(&text).expect("JSON");
    for activity in experiment["method"].as_array_mut().expect("method") {
        if let Some(pauses) = activity.get_mut("pauses") {
            *pauses = serde_json::json!({"after": 3});
        }
    }
    std::fs::write(dir.join("local.json"), experiment.to_string()).expect("write");
}

#[test]
fn an_experiment_started_from_the_page_streams_its_log_then_its_verdict_and_report() {
    require_bins(&["chaos-runner"]);
    let lab = Lab::new();
    lab.up(&["--mode", "before"]);
    let experiments = tempfile::tempdir().expect("dir");
    quick_experiments(experiments.path());
    let folder = experiments.path().to_str().expect("utf-8").to_string();
    let (live, url) = dashboard(&lab, &["--rate", "20", "--experiments", &folder]);
    let secret = secret_of(&url);
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let (status, body) = control(&url, &secret, "run-experiment", "&experiment=local.json");
    assert_eq!(status, 303, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(&url)["experiments"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        assert!(Instant::now() < deadline, "the run never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second one while it runs: it fails, saying why, and starts nothing.
    let (status, body) = control(&url, &secret, "run-experiment", "&experiment=local.json");
    assert_eq!(status, 303, "{body}");

    // The log, streamed: lines arrive while the run goes on, then the verdict and the
    // report's link end it.
    test_kit::service::install_tls_provider();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let response = client.get(format!("{url}/runs/1/log")).send().expect("log");
    assert_eq!(response.status().as_u16(), 200);
    let mut lines: Vec<(Duration, String)> = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(response)) {
        lines.push((started.elapsed(), line.expect("read the log")));
    }
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let first = lines.first().expect("a line").0;
    let (last_at, _) = lines.last().expect("a line");
    assert!(
        *last_at - first > Duration::from_millis(2500),
        "the log came all at once: {lines:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("Action: stop-provider-service")),
        "{text:#?}"
    );
    let n = text.len();
    assert_eq!(text[n - 2], "verdict: completed, deviated", "{text:#?}");
    assert_eq!(text[n - 1], "report: /runs/1/report.html", "{text:#?}");

    let (status, report, _) = get(&format!("{url}/runs/1/report.html")).expect("report");
    assert_eq!(status, 200);
    assert!(report.contains("consumer-service-must-still-respond"));
    // The users in it: their chart on the run's axis and the before/after table.
    for needle in [
        r#"<h3>The users</h3>"#,
        r#"class="users-chart""#,
        r#"<tr data-window="before the method">"#,
        r#"<tr data-window="from the method to the end">"#,
    ] {
        assert!(report.contains(needle), "{needle} missing in the report");
    }

    // The page: the run with its verdict and the link; the timeline: its steps and end.
    let s = state(&url);
    let panel = s["panel_html"].as_str().unwrap_or("");
    assert!(panel.contains("ended: completed, deviated"), "{panel}");
    assert!(panel.contains(r#"href="/runs/1/report.html""#), "{panel}");
    let events = events(&url);
    for (kind, text) in [
        ("action", "Action: stop-provider-service"),
        (
            "control",
            "experiment local.json ended: completed, deviated",
        ),
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == kind && e["text"].as_str().unwrap_or("").contains(text)),
            "no {kind} event {text}: {events:?}"
        );
    }
    assert!(
        events.iter().any(|e| e["verdict"] == "failed"
            && e["text"].as_str().unwrap_or("").contains("already running")),
        "{events:?}"
    );
    assert_eq!(s["experiments"].as_array().map(Vec::len), Some(1));
    let run_dir = lab.state_dir().join("dashboard/run-1");
    assert!(run_dir.join("journal.json").is_file());
    // The users' stretch the report drew, as the lab's JSON lines.
    let users = std::fs::read_to_string(run_dir.join("users.jsonl")).expect("users.jsonl");
    assert!(users.lines().count() >= 8, "{users}");
    assert!(
        users.lines().all(|l| l.starts_with(r#"{"start":""#)),
        "{users}"
    );
    assert_eq!(get(&format!("{url}/runs/9/log")).expect("GET").0, 404);
    live.interrupt();
    assert_eq!(live.wait(Duration::from_secs(20)), Some(0));
}

/// What the page shows of the system and the presenter's answer line.
const COCKPIT_STATE: &str = r##"const box = (k) => { const g = document.querySelector(`#system g[data-box="${k}"]`); return g ? g.dataset.health : null; };
const words = [...document.querySelectorAll("#system .system-words li")].map((li) => li.textContent);
return { seq: Number(document.getElementById("seq").textContent), provider: box("provider"), consumer: box("consumer"), users: box("users"),
  circuit_open: words.some((w) => w.includes("circuit: open")), answer: document.getElementById("answer").textContent,
  controls: document.querySelectorAll("#control-form button").length,
  events: [...document.querySelectorAll('li[data-kind="control"]')].map((li) => li.textContent),
  report: (document.querySelector('#panel a[data-k="report"]') || {}).href || null,
  verdict: (document.querySelector('#panel [data-k="verdict"]') || {}).textContent || null };"##;

/// Clicks the page's button for `action` (the page's script sends the form).
fn click(browser: &test_kit::browser::Browser, action: &str) {
    let clicked = browser.eval(&format!(
        r##"const b = document.querySelector('#control-form button[value="{action}"]'); if (!b) return false; b.click(); return true;"##
    ));
    assert_eq!(clicked, true, "no button for {action}");
}

#[test]
#[ignore = "browser tier: needs Debian's chromium and chromium-driver (scripts/test.sh sets them up)"]
fn browser_tier_the_presenter_clicks_kill_and_sees_the_provider_down_and_the_circuit_open() {
    require_bins(&["fault-proxy"]);
    let artifacts = test_kit::tier::artifacts_dir("cockpit");
    let lab = Lab::new();
    up_with_proxy(&lab, "after");
    let (live, url) = dashboard(&lab, &["--rate", "20"]);
    let browser = test_kit::browser::Browser::start();
    browser.goto(&format!("{url}/"));
    let before = browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["seq"].as_u64().unwrap_or(0) > 2 && v["provider"] == "UP" && v["users"] == "OK"
    });
    assert_eq!(before["controls"], 11, "{before}");
    assert_eq!(before["circuit_open"], false, "{before}");

    // A latency fault first, to see it drawn where it acts; then off again.
    click(&browser, "add-latency");
    browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["events"].as_array().is_some_and(|e| {
            e.iter().any(|t| {
                t.as_str()
                    .unwrap_or("")
                    .contains("latency on the provider: done")
            })
        })
    });
    std::thread::sleep(Duration::from_secs(3));
    browser.screenshot(&artifacts.join("cockpit-latency.png"));
    click(&browser, "remove-latency");
    browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["events"].as_array().is_some_and(|e| {
            e.iter().any(|t| {
                t.as_str()
                    .unwrap_or("")
                    .contains("remove the latency: done")
            })
        })
    });

    let clicked = Instant::now();
    click(&browser, "kill-provider");
    let down = browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["provider"] == "DOWN"
    });
    let shown = clicked.elapsed();
    let open = browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["circuit_open"] == true
    });
    eprintln!(
        "browser: click kill -> provider DOWN on the page {shown:?}; circuit open {:?} ({down})",
        clicked.elapsed()
    );
    assert!(
        open["answer"]
            .as_str()
            .unwrap_or("")
            .contains("accepted: kill the provider"),
        "{open}"
    );
    assert_eq!(
        open["consumer"], "UP",
        "the consumer itself stays up: {open}"
    );
    let events = open["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e.as_str().unwrap_or("").contains("kill the provider: done")),
        "{open}"
    );
    std::thread::sleep(Duration::from_secs(2));
    browser.screenshot(&artifacts.join("cockpit-provider-down.png"));

    click(&browser, "restore-provider");
    browser.wait_for(COCKPIT_STATE, Duration::from_secs(30), |v| {
        v["provider"] == "UP"
    });
    browser.goto(&format!("{url}/?view=projector"));
    browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["seq"].as_u64().unwrap_or(0) > 0
    });
    let large = browser.eval("return parseFloat(getComputedStyle(document.body).fontSize);");
    assert!(large.as_f64().unwrap_or(0.0) >= 24.0, "{large}");
    browser.screenshot(&artifacts.join("cockpit-projector.png"));
    drop(browser);
    drop(live);
}

#[test]
#[ignore = "browser tier: needs Debian's chromium and chromium-driver (scripts/test.sh sets them up)"]
fn browser_tier_an_experiment_run_from_the_page_opens_a_report_with_the_users() {
    require_bins(&["chaos-runner"]);
    let artifacts = test_kit::tier::artifacts_dir("cockpit");
    let lab = Lab::new();
    lab.up(&["--mode", "before"]);
    let experiments = tempfile::tempdir().expect("dir");
    quick_experiments(experiments.path());
    let folder = experiments.path().to_str().expect("utf-8").to_string();
    let (live, url) = dashboard(&lab, &["--rate", "20", "--experiments", &folder]);
    let browser = test_kit::browser::Browser::start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(COCKPIT_STATE, Duration::from_secs(15), |v| {
        v["seq"].as_u64().unwrap_or(0) > 4 && v["users"] == "OK"
    });
    click(&browser, "run-experiment");
    let ended = browser.wait_for(COCKPIT_STATE, Duration::from_secs(90), |v| {
        v["report"].is_string()
    });
    assert_eq!(ended["verdict"], "ended: completed, deviated", "{ended}");
    browser.screenshot(&artifacts.join("cockpit-experiment.png"));
    browser.goto(ended["report"].as_str().expect("report link"));
    let report = browser.eval(
        "return { users: document.querySelectorAll('section.users').length, \
                  bars: document.querySelectorAll('svg.users-chart rect.users-bar').length, \
                  rows: [...document.querySelectorAll('table.users-table tr[data-window]')].map((tr) => tr.dataset.window), \
                  after: (document.querySelector('tr[data-window=\"from the method to the end\"]') || {}).textContent };",
    );
    assert_eq!(report["users"], 1, "{report}");
    assert!(report["bars"].as_u64().unwrap_or(0) > 10, "{report}");
    assert_eq!(
        report["rows"],
        serde_json::json!(["before the method", "from the method to the end"]),
        "{report}"
    );
    browser.eval("document.querySelector('section.users').scrollIntoView(); return true;");
    browser.screenshot(&artifacts.join("report-users.png"));
    drop(browser);
    drop(live);
}

#[test]
fn a_slow_action_is_answered_at_once_and_another_waits_for_its_end() {
    let lab = Lab::new();
    lab.up(&["--mode", "before"]);
    let provider = lab.pid("my-provider-app").expect("provider pid");
    // The dashboard restarts the consumer from binaries whose consumer never gets ready:
    // `fix` then waits its whole readiness timeout (30 s).
    let root = tempfile::tempdir().expect("dir");
    let bins = common::bin_dir_with_stuck_consumer(root.path());
    let mut command = lab.command(&[
        "dashboard",
        "--addr",
        "127.0.0.1:0",
        "--duration",
        "300",
        "--rate",
        "0",
    ]);
    command.env("LAB_BIN_DIR", &bins);
    let mut live = Live::start(command);
    let url = live.url();
    let secret = secret_of(&url);

    let asked = Instant::now();
    let (status, body) = control(&url, &secret, "fix", "");
    let answered = asked.elapsed();
    assert_eq!(status, 303, "{body}");
    assert!(
        answered < Duration::from_secs(2),
        "the POST waited for the action: {answered:?}"
    );
    // Meanwhile another control is refused, saying what is under way, and does nothing.
    let (status, body) = control(&url, &secret, "kill-provider", "");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("busy: `fix the consumer"), "{body}");
    assert_eq!(state(&url)["busy"], "fix the consumer (resilience on)");
    assert!(alive(provider));

    // Its end is an event (here a failure, with why), and the controls are free again.
    let deadline = Instant::now() + Duration::from_secs(90);
    let failed = loop {
        if let Some(text) = events(&url).iter().find_map(|e| {
            let text = e["text"].as_str()?;
            (text.starts_with("fix the consumer") && e["verdict"] == "failed")
                .then(|| text.to_string())
        }) {
            break text;
        }
        assert!(Instant::now() < deadline, "the fix never ended");
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("cockpit: answered in {answered:?}; {failed}");
    assert!(state(&url)["busy"].is_null());
    act(&url, &secret, "kill-provider", "kill the provider");
    assert!(!alive(provider));
    live.interrupt();
    assert_eq!(live.wait(Duration::from_secs(15)), Some(0));
}
