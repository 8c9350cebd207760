//! The native chaostoolkit-toxiproxy driver (`chaostoxi.*` modules).
//!
//! Local tier: what needs no real Toxiproxy (discover, validation, argument errors, an
//! unreachable server, the `<proxy>_PORT` export and the base URL, against a stand-in
//! answering as Toxiproxy does). Compatibility tier: the experiments of
//! tests/fixtures/toxiproxy against the real Toxiproxy 2.5.0, through chaos-runner
//! (every function's output and the server's state checked) and side by side with the
//! Python `chaos` and chaostoolkit-toxiproxy 0.3.1 (a fresh server for each runner).

mod common;

use common::*;
use serde_json::{Value, json};
use std::hash::BuildHasher;
use std::hash::RandomState;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use test_kit::toxiproxy::{Flavour, ProxyServer};

const PROXY_ACTIONS: &str = "chaostoxi.proxy.actions";
const PROXY_PROBES: &str = "chaostoxi.proxy.probes";
const TOXIC_ACTIONS: &str = "chaostoxi.toxic.actions";

fn python(kind: &str, name: &str, module: &str, func: &str, arguments: Value) -> Value {
    json!({"type": kind, "name": name,
           "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}})
}

fn action(name: &str, module: &str, func: &str, arguments: Value) -> Value {
    python("action", name, module, func, arguments)
}

fn probe(name: &str, func: &str, arguments: Value) -> Value {
    python("probe", name, PROXY_PROBES, func, arguments)
}

/// A method-only experiment with `configuration`.
fn experiment_with(configuration: Value, method: Value) -> Value {
    let mut e = experiment(json!([]), method, json!([]));
    e["configuration"] = configuration;
    e
}

/// `n` distinct ports on 127.0.0.1 nothing listens on, below Linux's ephemeral range
/// (32768 and up), so no test's outgoing connection can take one before it is used.
fn ports(n: usize) -> Vec<u16> {
    let seed = RandomState::new();
    let mut held = Vec::new();
    let mut found = Vec::new();
    for attempt in 0u64..2000 {
        let port = 20_000 + (seed.hash_one(attempt) % 12_000) as u16;
        if found.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
            found.push(port);
            if found.len() == n {
                return found;
            }
        }
    }
    panic!("no {n} free ports between 20000 and 32000");
}

/// The compatibility-tier tests run one at a time: each starts servers on fixed ports.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// One run of an activity as the journal records it: name, status, output and the
/// exception's last line (each runner's traceback frames are its own).
fn records(journal: &Value) -> Vec<(String, String, Value, Value)> {
    let lists = [
        &journal["steady_states"]["before"]["probes"],
        &journal["run"],
        &journal["steady_states"]["after"]["probes"],
        &journal["rollbacks"],
    ];
    lists
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|r| {
            let raised = r["exception"]
                .as_array()
                .and_then(|e| e.last())
                .and_then(Value::as_str)
                .map_or(Value::Null, |line| json!(line.trim()));
            (
                r["activity"]["name"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
                r["output"].clone(),
                raised,
            )
        })
        .collect()
}

/// The record of activity `name`.
fn record(journal: &Value, name: &str) -> (String, Value, Value) {
    records(journal)
        .into_iter()
        .find(|r| r.0 == name)
        .map(|(_, status, output, raised)| (status, output, raised))
        .unwrap_or_else(|| panic!("no activity {name} in the journal:\n{journal:#}"))
}

fn failed_with(message: &str) -> Value {
    json!(format!("chaoslib.exceptions.ActivityFailed: {message}"))
}

// ---------------------------------------------------------------------------------
// Local tier: a stand-in for Toxiproxy's API.

/// What the stand-in was asked: method, path, JSON body (null when none).
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// A stand-in for Toxiproxy's API on 127.0.0.1: `POST /proxies` and
/// `POST /proxies/{name}` answer with the proxy, listening on the `listen` asked for
/// (port 0 becomes 4242), `POST /reset` answers 204, anything else 404 as Toxiproxy
/// does for a missing proxy. Records every request.
fn stand_in() -> (u16, Seen) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind the stand-in");
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .expect("an IP address");
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let (method, path) = (request.method().to_string(), request.url().to_string());
            log.lock().unwrap_or_else(|p| p.into_inner()).push((
                method.clone(),
                path.clone(),
                body.clone(),
            ));
            let proxy_path = path
                .rsplit_once("/proxies")
                .map(|(_, rest)| rest.to_string());
            let (status, answer) = match (method.as_str(), proxy_path.as_deref()) {
                ("POST", Some(rest)) if !rest.contains("/toxics") => {
                    let name = rest.trim_start_matches('/');
                    let name = if name.is_empty() {
                        &body["name"]
                    } else {
                        &json!(name)
                    };
                    let listen = body["listen"]
                        .as_str()
                        .unwrap_or("127.0.0.1:4242")
                        .replace(":0", ":4242");
                    (
                        201,
                        json!({"name": name, "listen": listen, "upstream": body["upstream"],
                               "enabled": true, "toxics": []})
                        .to_string(),
                    )
                }
                ("POST", None) if path.ends_with("/reset") => (204, String::new()),
                _ => (
                    404,
                    json!({"error": "proxy not found", "status": 404}).to_string(),
                ),
            };
            let header =
                tiny_http::Header::from_bytes("Content-Type", "application/json").expect("header");
            let _ = request.respond(
                tiny_http::Response::from_string(answer)
                    .with_status_code(status)
                    .with_header(header),
            );
        }
    });
    (port, seen)
}

fn seen(log: &Seen) -> Vec<(String, String, Value)> {
    log.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[test]
fn discover_lists_the_toxiproxy_driver_with_every_function_and_its_defaults() {
    let out = std::process::Command::new(bin())
        .arg("discover")
        .output()
        .expect("run chaos-runner discover");
    assert_eq!(out.status.code(), Some(0));
    let d: Value = serde_json::from_slice(&out.stdout).expect("discover prints JSON");
    let driver = d["drivers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["name"] == "toxiproxy")
        .unwrap_or_else(|| panic!("no toxiproxy driver in {d:#}"));
    assert_eq!(driver["package"], "chaostoolkit-toxiproxy");
    let listed: Vec<String> = driver["activities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {}.{}",
                f["type"].as_str().unwrap_or(""),
                f["module"].as_str().unwrap_or(""),
                f["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut expected: Vec<String> = [
        "create_proxy",
        "disable_proxy",
        "enable_proxy",
        "modify_proxy",
        "delete_proxy",
        "reset",
    ]
    .iter()
    .map(|f| format!("action {PROXY_ACTIONS}.{f}"))
    .collect();
    expected.extend(
        ["proxy_exist", "get_proxy_attribute"]
            .iter()
            .map(|f| format!("probe {PROXY_PROBES}.{f}")),
    );
    expected.extend(
        [
            "delete_toxic",
            "create_toxic",
            "create_latency_toxic",
            "create_bandwith_degradation_toxic",
            "create_slow_connection_close_toxic",
            "create_timeout_toxic",
            "create_slicer_toxic",
            "create_limiter_toxic",
        ]
        .iter()
        .map(|f| format!("action {TOXIC_ACTIONS}.{f}")),
    );
    assert_eq!(listed, expected);
    let create = &driver["activities"][0];
    assert_eq!(
        create["arguments"],
        json!([
            {"name": "proxy_name", "type": "string", "required": true},
            {"name": "upstream_host", "type": "string", "required": true},
            {"name": "upstream_port", "type": "integer", "required": true},
            {"name": "listen_host", "type": "string", "default": "0.0.0.0", "required": false},
            {"name": "listen_port", "type": "integer", "default": 0, "required": false},
            {"name": "enabled", "type": "boolean", "default": true, "required": false},
        ])
    );
    let create_toxic = &driver["activities"][9];
    assert_eq!(create_toxic["name"], "create_toxic");
    assert_eq!(
        create_toxic["arguments"]
            .as_array()
            .map(|a| a[3..].to_vec()),
        Some(vec![
            json!({"name": "stream", "type": "string", "default": "downstream", "required": false}),
            json!({"name": "toxicity", "type": "number", "default": 1.0, "required": false}),
            json!({"name": "attributes", "type": "object", "default": null, "required": false}),
        ])
    );
}

#[test]
fn validation_refuses_a_missing_or_unknown_argument_of_a_toxiproxy_function() {
    let e = experiment_with(
        json!({"toxiproxy_host": "127.0.0.1"}),
        json!([action(
            "lat",
            TOXIC_ACTIONS,
            "create_latency_toxic",
            json!({"for_proxy": "p", "toxic_name": "t", "latncy": 5})
        )]),
    );
    assert_refused_by_validation(
        &e,
        &[],
        &[
            "required argument 'latency' is missing from activity 'lat'",
            "argument latncy is not part of the function signature in activity 'lat'",
        ],
    );
}

#[test]
fn bad_argument_types_fail_the_activity_before_any_request() {
    let (port, log) = stand_in();
    let toxic = |name: &str, func: &str, extra: Value| {
        let mut args = json!({"for_proxy": "p", "toxic_name": "t"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            args[k] = v.clone();
        }
        action(name, TOXIC_ACTIONS, func, args)
    };
    let e = experiment_with(
        json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": port}),
        json!([
            toxic(
                "latency-as-text",
                "create_latency_toxic",
                json!({"latency": "100"})
            ),
            toxic(
                "negative-jitter",
                "create_latency_toxic",
                json!({"latency": 1, "jitter": -5})
            ),
            toxic(
                "toxicity-above-one",
                "create_toxic",
                json!({"toxic_type": "latency", "toxicity": 2})
            ),
            toxic(
                "timeout-beyond-30-days",
                "create_timeout_toxic",
                json!({"timeout": 2_592_000_001_u64})
            ),
            toxic(
                "negative-size",
                "create_limiter_toxic",
                json!({"bytes_limit": -1})
            ),
            action(
                "port-out-of-range",
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "p", "upstream_host": "h", "upstream_port": 65536})
            ),
            action(
                "name-not-text",
                PROXY_ACTIONS,
                "delete_proxy",
                json!({"proxy_name": ["p"]})
            ),
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_cli(dir.path(), &e, &[]);
    let j = r.journal.expect("journal");
    let expected = [
        (
            "latency-as-text",
            "invalid argument 'latency': must be a whole number of milliseconds, got \"100\"",
        ),
        (
            "negative-jitter",
            "invalid argument 'jitter': must not be negative, got -5",
        ),
        (
            "toxicity-above-one",
            "invalid argument 'toxicity': must be between 0 and 1, got 2",
        ),
        (
            "timeout-beyond-30-days",
            "invalid argument 'timeout': must be at most 2592000000 milliseconds, got 2592000001",
        ),
        (
            "negative-size",
            "invalid argument 'bytes_limit': must not be negative, got -1",
        ),
        (
            "port-out-of-range",
            "invalid argument 'upstream_port': must be a port number (0 to 65535), got 65536",
        ),
        (
            "name-not-text",
            "invalid argument 'proxy_name': must be a string, got a list",
        ),
    ];
    for (name, message) in expected {
        assert_eq!(
            record(&j, name),
            ("failed".to_string(), Value::Null, failed_with(message)),
            "{name}"
        );
    }
    assert_eq!(seen(&log), vec![], "no request may reach the server");
}

#[test]
fn an_unreachable_server_fails_naming_the_url_and_the_cause_and_delete_proxy_only_logs() {
    let port = ports(1)[0];
    let e = experiment_with(
        json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": port}),
        json!([
            probe("exists", "proxy_exist", json!({"proxy_name": "p1"})),
            action("reset", PROXY_ACTIONS, "reset", json!({})),
            action(
                "delete",
                PROXY_ACTIONS,
                "delete_proxy",
                json!({"proxy_name": "p1"})
            ),
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_cli(dir.path(), &e, &[]);
    let j = r.journal.expect("journal");
    assert_eq!(j["status"], "completed");
    for (name, method, path) in [
        ("exists", "GET", "/proxies/p1"),
        ("reset", "POST", "/reset"),
    ] {
        let (status, output, raised) = record(&j, name);
        assert_eq!(
            (status.as_str(), &output),
            ("failed", &Value::Null),
            "{name}"
        );
        let prefix = format!(
            "chaoslib.exceptions.ActivityFailed: cannot reach the Toxiproxy API: {method} http://127.0.0.1:{port}{path}: "
        );
        let raised = raised.as_str().unwrap_or("").to_string();
        assert!(raised.starts_with(&prefix), "{raised}");
        assert!(raised.contains("Connection refused"), "{raised}");
    }
    // The extension swallows every failure of delete_proxy, and returns None.
    assert_eq!(
        record(&j, "delete"),
        ("succeeded".to_string(), Value::Null, Value::Null)
    );
    assert!(
        r.stderr.contains("Unable to remove proxy with"),
        "{}",
        r.stderr
    );
}

#[test]
fn create_proxy_exports_its_port_to_later_processes_and_env_arguments() {
    let (port, log) = stand_in();
    let print_port = |name: &str| {
        json!({"type": "probe", "name": name,
               "provider": {"type": "process", "path": "sh",
                            "arguments": ["-c", "printf %s \"${web_PORT:-unset}\""]}})
    };
    let e = experiment_with(
        json!({"toxiproxy_host": "127.0.0.1", "toxiproxy_port": port.to_string()}),
        json!([
            print_port("before"),
            action(
                "create",
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "web", "upstream_host": "10.0.0.1", "upstream_port": 80})
            ),
            print_port("after-create"),
            action(
                "chain",
                PROXY_ACTIONS,
                "create_proxy",
                json!({"proxy_name": "front", "upstream_host": "127.0.0.1",
                          "upstream_port": "env:web_PORT", "listen_host": "127.0.0.1",
                          "listen_port": 4300, "enabled": false})
            ),
            action(
                "move",
                PROXY_ACTIONS,
                "modify_proxy",
                json!({"proxy_name": "web", "listen_address": "127.0.0.1:4343"})
            ),
            print_port("after-modify"),
            action(
                "disable",
                PROXY_ACTIONS,
                "disable_proxy",
                json!({"proxy_name": "web"})
            ),
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run_cli(dir.path(), &e, &[]);
    let j = r.journal.expect("journal");
    let stdout = |name: &str| record(&j, name).1["stdout"].clone();
    assert_eq!(stdout("before"), "unset");
    assert_eq!(stdout("after-create"), "4242");
    assert_eq!(stdout("after-modify"), "4343");
    for name in ["create", "chain", "move", "disable"] {
        assert_eq!(
            record(&j, name),
            ("succeeded".to_string(), json!(true), Value::Null),
            "{name}"
        );
    }
    assert_eq!(
        seen(&log),
        vec![
            (
                "POST".into(),
                "/proxies".into(),
                json!({"name": "web", "listen": "0.0.0.0:0", "upstream": "10.0.0.1:80", "enabled": true})
            ),
            (
                "POST".into(),
                "/proxies".into(),
                json!({"name": "front", "listen": "127.0.0.1:4300", "upstream": "127.0.0.1:4242", "enabled": false})
            ),
            (
                "POST".into(),
                "/proxies/web".into(),
                json!({"listen": "127.0.0.1:4343"})
            ),
            (
                "POST".into(),
                "/proxies/web".into(),
                json!({"enabled": false})
            ),
        ]
    );
}

#[test]
fn toxiproxy_url_is_used_as_written_before_host_and_port() {
    let (port, log) = stand_in();
    let e = experiment_with(
        json!({"toxiproxy_url": format!("http://127.0.0.1:{port}/api"),
               "toxiproxy_host": "127.0.0.1", "toxiproxy_port": 1}),
        json!([
            action("reset", PROXY_ACTIONS, "reset", json!({})),
            probe(
                "missing",
                "get_proxy_attribute",
                json!({"proxy_name": "nope", "attribute": "listen"})
            ),
            action(
                "toxic-of-missing",
                TOXIC_ACTIONS,
                "create_timeout_toxic",
                json!({"for_proxy": "nope", "toxic_name": "t", "timeout": 0})
            ),
        ]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let j = run_cli(dir.path(), &e, &[]).journal.expect("journal");
    assert_eq!(
        record(&j, "reset"),
        ("succeeded".into(), json!(true), Value::Null)
    );
    assert_eq!(
        record(&j, "missing"),
        ("succeeded".into(), Value::Null, Value::Null)
    );
    assert_eq!(
        record(&j, "toxic-of-missing"),
        (
            "failed".into(),
            Value::Null,
            failed_with("TypeError: 'NoneType' object is not subscriptable")
        )
    );
    let paths: Vec<(String, String)> = seen(&log).into_iter().map(|(m, p, _)| (m, p)).collect();
    assert_eq!(
        paths,
        vec![
            ("POST".into(), "/api/reset".into()),
            ("GET".into(), "/api/proxies/nope".into()),
            ("POST".into(), "/api/proxies/nope/toxics".into()),
        ]
    );
    assert_eq!(
        seen(&log)[2].2,
        json!({"name": "t", "type": "timeout", "stream": "downstream", "toxicity": 1.0,
               "attributes": {"timeout": 0}})
    );
}

// ---------------------------------------------------------------------------------
// Compatibility tier: the real Toxiproxy, and the Python extension.

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/toxiproxy")
        .join(format!("{name}.json"))
}

/// The `--var`s a fixture runs with: the API's port and the proxies' listen ports.
struct Setup {
    api: u16,
    p1: u16,
    p2: u16,
}

impl Setup {
    fn new() -> Setup {
        let p = ports(3);
        Setup {
            api: p[0],
            p1: p[1],
            p2: p[2],
        }
    }

    fn vars(&self) -> Vec<String> {
        [
            format!("toxiproxy_port={}", self.api),
            format!("toxiproxy_url=http://127.0.0.1:{}", self.api),
            format!("p1_port={}", self.p1),
            format!("p2_port={}", self.p2),
        ]
        .into_iter()
        .flat_map(|v| ["--var".to_string(), v])
        .collect()
    }
}

/// Which runner.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Runner {
    Reference,
    Ours,
}

/// Runs fixture `name` with `runner` against a fresh real Toxiproxy on `setup.api`
/// (none for `unreachable`); returns the exit code, the journal and the server's
/// proxies afterwards.
fn run_fixture(runner: Runner, name: &str, setup: &Setup, work: &Path) -> (i32, Value, Value) {
    std::fs::create_dir_all(work).expect("work dir");
    let server = (name != "unreachable").then(|| {
        ProxyServer::launch(Flavour::Toxiproxy, test_kit::tier::toxiproxy_bin())
            .port(setup.api)
            .log_file(&work.join("toxiproxy.log"))
            .start()
    });
    let (program, global): (PathBuf, &[&str]) = match runner {
        Runner::Reference => (
            test_kit::tier::chaos_bin(),
            &["--no-version-check", "--no-log-file"],
        ),
        Runner::Ours => (bin(), &[]),
    };
    let (code, journal) = run_one(&program, global, &fixture(name), work, &setup.vars());
    let state = server.as_ref().map_or(Value::Null, ProxyServer::proxies);
    (code, journal, state)
}

/// Activities whose failure message differs from the extension's on purpose
/// (chaos-runner/README.md, "Deliberate differences"): ours, then the reference's.
fn deliberate(fixture: &str, activity: &str, setup: &Setup) -> Option<(String, String)> {
    let connection = |path: &str, method: &str| {
        Some((
            format!(
                "chaoslib.exceptions.ActivityFailed: cannot reach the Toxiproxy API: {method} http://127.0.0.1:{}{path}: client error (Connect): tcp connect error: Connection refused (os error 111)",
                setup.api
            ),
            format!(
                "chaoslib.exceptions.ActivityFailed: requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port={}): Max retries exceeded with url: {path} ",
                setup.api
            ),
        ))
    };
    match (fixture, activity) {
        ("proxies", "bad-argument-type") => Some((
            "chaoslib.exceptions.ActivityFailed: invalid argument 'enabled': must be true or false, got a string".into(),
            "chaoslib.exceptions.ActivityFailed: AssertionError".into(),
        )),
        ("toxics", "bad-argument-type") => Some((
            "chaoslib.exceptions.ActivityFailed: invalid argument 'latency': must be a whole number of milliseconds, got \"100\"".into(),
            "chaoslib.exceptions.ActivityFailed: TypeError: 'NoneType' object is not subscriptable".into(),
        )),
        ("unreachable", "exists-fails") => connection("/proxies/p1", "GET"),
        ("unreachable", "create-fails") => connection("/proxies", "POST"),
        ("unreachable", "toxic-fails") => connection("/proxies/p1/toxics", "POST"),
        ("unreachable", "reset-fails") => connection("/reset", "POST"),
        _ => None,
    }
}

/// What chaos-runner must record for the proxies fixture, activity by activity.
fn expected_proxies(setup: &Setup) -> Vec<(&'static str, &'static str, Value)> {
    let p1 = format!("127.0.0.1:{}", setup.p1);
    vec![
        ("no-p0", "succeeded", json!(false)),
        ("create-p1", "succeeded", json!(true)),
        ("p1-exists", "succeeded", json!(true)),
        ("p1-listen", "succeeded", json!(p1)),
        (
            "p1-port-in-env",
            "succeeded",
            json!({"status": 0, "stdout": setup.p1.to_string(), "stderr": ""}),
        ),
        (
            "p1-port-in-python-env",
            "succeeded",
            json!(setup.p1.to_string()),
        ),
        ("create-p2-to-p1-disabled", "succeeded", json!(true)),
        ("p2-upstream", "succeeded", json!(p1)),
        ("p2-enabled-before", "succeeded", json!(false)),
        ("enable-p2", "succeeded", json!(true)),
        ("p2-enabled-after", "succeeded", json!(true)),
        ("disable-p1", "succeeded", json!(true)),
        ("p1-enabled-after-disable", "succeeded", json!(false)),
        ("modify-p1-upstream", "succeeded", json!(true)),
        ("p1-upstream", "succeeded", json!("127.0.0.1:10")),
        ("reset", "succeeded", json!(true)),
        ("p1-enabled-after-reset", "succeeded", json!(true)),
        ("create-p1-again-fails", "failed", json!("AssertionError")),
        ("modify-missing-fails", "failed", json!("AssertionError")),
        ("enable-missing-fails", "failed", json!("AssertionError")),
        ("attribute-of-missing-proxy", "succeeded", Value::Null),
        (
            "missing-attribute-fails",
            "failed",
            json!("KeyError: 'nope'"),
        ),
        ("missing-proxy-exists", "succeeded", json!(false)),
        (
            "upstream-from-unset-env-fails",
            "failed",
            json!("KeyError: 'CASCADE_SURELY_UNSET_VARIABLE'"),
        ),
        (
            "create-p4-listening-on-a-bad-address-fails",
            "failed",
            json!("AssertionError"),
        ),
        (
            "bad-argument-type",
            "failed",
            json!("invalid argument 'enabled': must be true or false, got a string"),
        ),
        ("delete-missing", "succeeded", Value::Null),
        ("delete-p2", "succeeded", Value::Null),
        ("p2-gone", "succeeded", json!(false)),
        ("no-p0", "succeeded", json!(false)),
        ("p1-still-there", "succeeded", json!(true)),
    ]
}

/// A toxic as Toxiproxy describes it (a toxicity of 1 written as an integer).
fn toxic(name: &str, kind: &str, stream: &str, toxicity: Value, attributes: Value) -> Value {
    json!({"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes})
}

fn expected_toxics() -> Vec<(&'static str, &'static str, Value)> {
    let all = json!([
        toxic(
            "up",
            "latency",
            "upstream",
            json!(0.5),
            json!({"latency": 50, "jitter": 0})
        ),
        toxic(
            "lat",
            "latency",
            "downstream",
            json!(1),
            json!({"latency": 1500, "jitter": 10})
        ),
        toxic(
            "lat0",
            "latency",
            "downstream",
            json!(1),
            json!({"latency": 20, "jitter": 0})
        ),
        toxic(
            "bw",
            "bandwidth",
            "downstream",
            json!(1),
            json!({"rate": 64})
        ),
        toxic(
            "sc",
            "slow_close",
            "downstream",
            json!(1),
            json!({"delay": 200})
        ),
        toxic(
            "to",
            "timeout",
            "downstream",
            json!(1),
            json!({"timeout": 3000})
        ),
        toxic(
            "sl",
            "slicer",
            "downstream",
            json!(1),
            json!({"average_size": 8, "size_variation": 2, "delay": 100})
        ),
        toxic(
            "lim",
            "limit_data",
            "downstream",
            json!(1),
            json!({"bytes": 4096})
        ),
        toxic(
            "rp",
            "reset_peer",
            "downstream",
            json!(1),
            json!({"timeout": 0})
        ),
    ]);
    let type_error = json!("TypeError: 'NoneType' object is not subscriptable");
    let mut expected: Vec<(&str, &str, Value)> = [
        "create-t1",
        "latency",
        "latency-default-jitter",
        "bandwidth",
        "slow-close",
        "timeout",
        "slicer",
        "limiter",
        "generic-upstream",
        "generic-defaults",
    ]
    .into_iter()
    .map(|name| (name, "succeeded", json!(true)))
    .collect();
    expected.push(("toxics-of-t1", "succeeded", all));
    for name in [
        "unknown-type-fails",
        "bad-stream-fails",
        "duplicate-name-fails",
        "toxic-on-missing-proxy-fails",
    ] {
        expected.push((name, "failed", type_error.clone()));
    }
    expected.extend([
        (
            "bad-argument-type",
            "failed",
            json!(
                "invalid argument 'latency': must be a whole number of milliseconds, got \"100\""
            ),
        ),
        ("delete-sc", "succeeded", json!(true)),
        ("delete-sc-again", "succeeded", json!(false)),
        ("delete-toxic-of-missing-proxy", "succeeded", json!(false)),
        ("delete-lat", "succeeded", json!(true)),
    ]);
    expected
}

/// Checks our journal against `expected` (name, status, output or failure message).
fn assert_records(journal: &Value, expected: &[(&str, &str, Value)]) {
    let got: Vec<(String, String, Value)> = records(journal)
        .into_iter()
        .map(|(name, status, output, raised)| {
            let shown = match raised.as_str() {
                Some(line) => {
                    json!(line.trim_start_matches("chaoslib.exceptions.ActivityFailed: "))
                }
                None => output,
            };
            (name, status, shown)
        })
        .collect();
    let want: Vec<(String, String, Value)> = expected
        .iter()
        .map(|(n, s, v)| (n.to_string(), s.to_string(), v.clone()))
        .collect();
    assert_eq!(got, want);
}

#[test]
#[ignore = "compatibility tier: needs the real Toxiproxy 2.5.0 (CASCADE_TOXIPROXY_BIN) and the Python chaos for the bridged probe"]
fn compat_tier_every_toxiproxy_function_against_the_real_toxiproxy() {
    let _one_at_a_time = serial();
    let tmp = tempfile::tempdir().expect("tempdir");

    let setup = Setup::new();
    let (code, journal, state) =
        run_fixture(Runner::Ours, "proxies", &setup, &tmp.path().join("proxies"));
    assert_eq!(
        (code, &journal["status"]),
        (0, &json!("completed")),
        "{journal:#}"
    );
    assert_records(&journal, &expected_proxies(&setup));
    // p2 deleted; p1 reset to enabled, its upstream changed, no toxic.
    assert_eq!(
        state,
        json!({"p1": {"name": "p1", "listen": format!("127.0.0.1:{}", setup.p1),
                      "upstream": "127.0.0.1:10", "enabled": true, "Logger": {}, "toxics": []}})
    );

    let setup = Setup::new();
    let (code, journal, state) =
        run_fixture(Runner::Ours, "toxics", &setup, &tmp.path().join("toxics"));
    assert_eq!(
        (code, &journal["status"]),
        (0, &json!("completed")),
        "{journal:#}"
    );
    assert_records(&journal, &expected_toxics());
    // The deleted toxics (sc in the method, lat in the rollbacks) are gone.
    let names: Vec<&str> = state["t1"]["toxics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["up", "lat0", "bw", "to", "sl", "lim", "rp"]);
    assert_eq!(
        state["t1"]["listen"],
        json!(format!("127.0.0.1:{}", setup.p1))
    );
    assert_eq!(state["t1"]["upstream"], "127.0.0.1:9");
}

#[test]
#[ignore = "compatibility tier: needs the Python chaos with chaostoolkit-toxiproxy (CASCADE_CHAOS_BIN) and the real Toxiproxy 2.5.0 (CASCADE_TOXIPROXY_BIN)"]
fn compat_tier_same_journals_and_server_state_as_chaostoolkit_toxiproxy() {
    let _one_at_a_time = serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut deliberate_seen = 0;
    for name in ["proxies", "toxics", "unreachable"] {
        // The same ports for both runs (one after the other), so outputs naming them match.
        let setup = Setup::new();
        let theirs = run_fixture(
            Runner::Reference,
            name,
            &setup,
            &tmp.path().join(format!("{name}-ref")),
        );
        let ours = run_fixture(
            Runner::Ours,
            name,
            &setup,
            &tmp.path().join(format!("{name}-ours")),
        );
        if theirs.0 != ours.0 {
            failures.push(format!(
                "{name}: exit code {} (reference {})",
                ours.0, theirs.0
            ));
        }
        for key in ["status", "deviated"] {
            if theirs.1[key] != ours.1[key] {
                failures.push(format!(
                    "{name}: journal {key} {} (reference {})",
                    ours.1[key], theirs.1[key]
                ));
            }
        }
        if theirs.2 != ours.2 {
            failures.push(format!(
                "{name}: server state\n ours:      {}\n reference: {}",
                ours.2, theirs.2
            ));
        }
        let before = failures.len();
        let (a, b) = (records(&theirs.1), records(&ours.1));
        if a.len() != b.len() {
            failures.push(format!(
                "{name}: {} activities recorded (reference {})",
                b.len(),
                a.len()
            ));
        }
        for (r, o) in a.iter().zip(&b) {
            let same_run = r.0 == o.0 && r.1 == o.1 && r.2 == o.2;
            let same = match deliberate(name, &o.0, &setup) {
                Some((our_message, their_message)) => {
                    deliberate_seen += 1;
                    same_run
                        && o.3 == json!(our_message)
                        && r.3.as_str().is_some_and(|m| m.starts_with(&their_message))
                }
                None => same_run && r.3 == o.3,
            };
            if !same {
                failures.push(format!(
                    "{name}: activity differs\n ours:      {o:?}\n reference: {r:?}"
                ));
            }
        }
        // What both runners and servers logged, to see why.
        if failures.len() > before {
            for who in ["ref", "ours"] {
                let work = tmp.path().join(format!("{name}-{who}"));
                for log in ["stderr.log", "toxiproxy.log"] {
                    let text = std::fs::read_to_string(work.join(log)).unwrap_or_default();
                    failures.push(format!("{name}-{who}/{log}:\n{text}"));
                }
            }
        }
    }
    assert_eq!(
        deliberate_seen, 6,
        "every documented difference was exercised"
    );
    assert!(
        failures.is_empty(),
        "{} difference(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
