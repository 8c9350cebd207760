//! Conformance tests: real HTTP on 127.0.0.1 and real processes, through the library.

mod common;

use chaos_runner::Dry;
use chaos_runner::RollbackStrategy;
use chaos_runner::RunOptions;
use chaos_runner::Status;
use chaos_runner::Strategy;
use chaos_runner::Vars;
use chaos_runner::{Argument, Context, Driver, DriverError, Function, Registry};
use common::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn opts() -> RunOptions {
    RunOptions {
        registry: Registry::empty(),
        ..RunOptions::default()
    }
}

/// Runs a one-probe hypothesis and returns whether the tolerance was met.
fn tolerance_met(probe: Value) -> bool {
    let outcome = run_lib(experiment(json!([probe]), json!([]), json!([])), opts());
    let j = journal_json(&outcome);
    let met = j["steady_states"]["before"]["probes"][0]["tolerance_met"].clone();
    assert_eq!(
        j["steady_states"]["before"]["steady_state_met"], met,
        "{j:#}"
    );
    met.as_bool().expect("tolerance_met recorded")
}

#[test]
fn every_tolerance_type_met_and_not_met() {
    let s = server();
    let cases: Vec<(Value, bool)> = vec![
        // int against an http status / a process exit status
        (probe_http("h200", &s.url("/ok"), json!(200)), true),
        (probe_http("h503", &s.url("/status/503"), json!(200)), false),
        (probe_process("p0", "true", json!([]), json!(0)), true),
        (probe_process("p1", "false", json!([]), json!(0)), false),
        // list: status membership
        (
            probe_http("l", &s.url("/status/204"), json!([200, 204])),
            true,
        ),
        (
            probe_http("l2", &s.url("/status/404"), json!([200, 503])),
            false,
        ),
        // bool and string against a python-free output: use jsonpath-free regex-free checks
        (probe_process("b", "true", json!([]), json!(true)), false),
        // regex on stdout and on an http body
        (
            probe_process(
                "r",
                "echo",
                json!(["hello world"]),
                json!({"type": "regex", "pattern": "wor.d", "target": "stdout"}),
            ),
            true,
        ),
        (
            probe_process(
                "r2",
                "echo",
                json!(["hello"]),
                json!({"type": "regex", "pattern": "^bye", "target": "stdout"}),
            ),
            false,
        ),
        (
            probe_http(
                "r3",
                &s.url("/ok"),
                json!({"type": "regex", "pattern": "hel+o", "target": "body"}),
            ),
            true,
        ),
        // range on stdout
        (
            probe_process(
                "g",
                "echo",
                json!(["42"]),
                json!({"type": "range", "range": [40, 45], "target": "stdout"}),
            ),
            true,
        ),
        (
            probe_process(
                "g2",
                "echo",
                json!(["42"]),
                json!({"type": "range", "range": [0, 41.5], "target": "stdout"}),
            ),
            false,
        ),
        (
            probe_http(
                "g3",
                &s.url("/json"),
                json!({"type": "range", "range": [200, 299], "target": "status"}),
            ),
            true,
        ),
        // jsonpath on a JSON body: presence, expect, count
        (
            probe_http(
                "j",
                &s.url("/json"),
                json!({"type": "jsonpath", "path": "$.status", "expect": "UP", "target": "body"}),
            ),
            true,
        ),
        (
            probe_http(
                "j2",
                &s.url("/json"),
                json!({"type": "jsonpath", "path": "$.status", "expect": "DOWN", "target": "body"}),
            ),
            false,
        ),
        (
            probe_http(
                "j3",
                &s.url("/json"),
                json!({"type": "jsonpath", "path": "$.items[*].name", "count": 2, "target": "body"}),
            ),
            true,
        ),
        (
            probe_http(
                "j4",
                &s.url("/json"),
                json!({"type": "jsonpath", "path": "$.items[?(@.up == true)].name", "expect": ["a"], "target": "body"}),
            ),
            true,
        ),
        (
            probe_http(
                "j5",
                &s.url("/json"),
                json!({"type": "jsonpath", "path": "$.nothing", "target": "body"}),
            ),
            false,
        ),
        // a JSON document printed by a process
        (
            probe_process(
                "j6",
                "echo",
                json!(["{\"n\": 5}"]),
                json!({"type": "jsonpath", "path": "$.n", "expect": 5, "target": "stdout"}),
            ),
            true,
        ),
        // a probe as tolerance: the process gets the output as its `value` argument
        (
            probe_process(
                "t",
                "true",
                json!([]),
                json!({"type": "probe", "name": "check", "provider": {"type": "process", "path": "true", "arguments": {}}}),
            ),
            true,
        ),
    ];
    for (probe, expected) in cases {
        let name = probe["name"].clone();
        assert_eq!(tolerance_met(probe), expected, "probe {name}");
    }
}

#[test]
fn bool_string_list_tolerances_against_plain_outputs() {
    // A driver lets us produce plain (non-mapping) outputs, as Python functions do.
    let cases = vec![
        (json!(true), json!(true), true),
        (json!(false), json!(true), false),
        (json!("UP"), json!("UP"), true),
        (json!("UP"), json!("DOWN"), false),
        (json!(3), json!([1, 5]), true),
        (json!(7), json!([1, 5]), false),
        (json!("b"), json!(["a", "b", "c"]), true),
        (json!("z"), json!(["a", "b", "c"]), false),
        (json!(4), json!(4), true),
    ];
    for (output, tolerance, expected) in cases {
        let probe = json!({"type": "probe", "name": "echo", "tolerance": tolerance,
            "provider": {"type": "python", "module": "testing.echo", "func": "echo", "arguments": {"value": output}}});
        let outcome = run_lib(
            experiment(json!([probe]), json!([]), json!([])),
            RunOptions {
                registry: test_registry(),
                ..opts()
            },
        );
        let j = journal_json(&outcome);
        assert_eq!(
            j["steady_states"]["before"]["steady_state_met"],
            json!(expected),
            "output {output} tolerance {tolerance}: {j:#}"
        );
    }
}

/// A native driver for tests: `testing.echo.echo(value)` returns `value`;
/// `testing.echo.context()` returns the configuration and secrets it received;
/// `testing.echo.fail(message)` fails.
struct EchoDriver;

impl Driver for EchoDriver {
    fn name(&self) -> &str {
        "testing"
    }
    fn package(&self) -> &str {
        "tests"
    }
    fn functions(&self) -> Vec<Function> {
        let f = |name: &str, args: Vec<Argument>| Function {
            module: "testing.echo".into(),
            name: name.into(),
            kind: "probe".into(),
            doc: String::new(),
            arguments: args,
        };
        let arg = |name: &str| Argument {
            name: name.into(),
            ty: "object".into(),
            default: None,
            required: true,
        };
        vec![
            f("echo", vec![arg("value")]),
            f("context", vec![]),
            f("fail", vec![arg("message")]),
            f("panic", vec![]),
        ]
    }
    fn call(
        &self,
        _module: &str,
        func: &str,
        arguments: &Map<String, Value>,
        context: &Context,
    ) -> Result<Value, DriverError> {
        match func {
            "echo" => Ok(arguments.get("value").cloned().unwrap_or(Value::Null)),
            "context" => Ok(json!({
                "configuration": context.configuration,
                "secrets": context.secrets,
            })),
            "panic" => panic!("the test driver panics"),
            "fail" => Err(DriverError::Failed(
                arguments
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            )),
            other => Err(DriverError::Unknown {
                module: "testing.echo".into(),
                func: other.into(),
            }),
        }
    }
}

fn test_registry() -> Registry {
    let mut r = Registry::empty();
    r.register(Arc::new(EchoDriver));
    r
}

/// A provider that panics (here a native driver) fails its activity, with the panic's
/// message in the journal, in the method and in a background activity alike (every
/// provider call goes through the same guard, the continuous hypothesis's too); the run
/// goes on.
#[test]
fn a_panicking_provider_fails_its_activity_in_the_method_and_in_the_background() {
    let panicking = |name: &str, background: bool| {
        json!({"type": "action", "name": name, "background": background,
               "provider": {"type": "python", "module": "testing.echo", "func": "panic"}})
    };
    let method = json!([
        panicking("in-method", false),
        panicking("in-background", true)
    ]);
    let outcome = run_lib(
        experiment(json!([]), method, json!([])),
        RunOptions {
            registry: test_registry(),
            ..RunOptions::default()
        },
    );
    let j = journal_json(&outcome);
    let runs = j["run"].as_array().expect("method runs");
    assert_eq!(runs.len(), 2, "{j:#}");
    for run in runs {
        assert_eq!(run["status"], "failed", "{j:#}");
        assert!(
            run["exception"]
                .to_string()
                .contains("the test driver panics"),
            "{j:#}"
        );
    }
    assert_eq!(j["status"], "completed", "{j:#}");
}

/// A server that closes idle keep-alive connections (as actix does after 5 s) must not
/// fail the next probe: each request gets a fresh connection, as in chaoslib.
#[test]
fn http_probes_survive_the_server_closing_idle_connections() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
            );
            // Keep-alive promised, then the idle connection is closed.
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(stream);
        }
    });
    let method = json!([
        {"type": "probe", "name": "first", "provider": {"type": "http", "url": url, "timeout": 5}},
        {"type": "probe", "name": "second", "provider": {"type": "http", "url": url, "timeout": 5},
            "pauses": {"before": 1}}
    ]);
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    let j = journal_json(&outcome);
    for run in j["run"].as_array().expect("runs") {
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["output"]["status"], 200, "{run}");
    }
}

/// `timeout: N` is requests' (N connect, N read): a server that accepts and then says
/// nothing fails the probe after about N seconds, not connect + read.
#[test]
fn http_number_timeout_is_a_read_timeout_not_connect_plus_read() {
    let s = server();
    let method = json!([
        {"type": "probe", "name": "silent", "provider": {"type": "http", "url": s.url("/slow/8000"), "timeout": 1}}
    ]);
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    let j = journal_json(&outcome);
    let run = &j["run"][0];
    assert_eq!(run["status"], "failed", "{run}");
    let duration = run["duration"].as_f64().unwrap_or(f64::MAX);
    assert!(
        (0.9..1.8).contains(&duration),
        "read timeout of 1 s gave up after {duration} s"
    );
}

#[test]
fn http_provider_options() {
    let s = server();
    let method = json!([
        {"type": "probe", "name": "get-query", "provider": {"type": "http", "url": s.url("/echo"),
            "arguments": {"a": 1, "b": ["x", "y"], "skip": null}, "headers": {"X-Test": "${hdr}"}}},
        {"type": "action", "name": "post-form", "provider": {"type": "http", "url": s.url("/echo"), "method": "post",
            "arguments": {"k": "v w"}}},
        {"type": "action", "name": "post-json", "provider": {"type": "http", "url": s.url("/echo"), "method": "PUT",
            "headers": {"Content-Type": "application/json"}, "arguments": {"k": [1, 2], "s": "caf\u{e9}"}}},
        {"type": "probe", "name": "text-body", "provider": {"type": "http", "url": s.url("/ok")}},
        {"type": "probe", "name": "error-status-is-output", "provider": {"type": "http", "url": s.url("/status/500")}},
        {"type": "probe", "name": "timeout", "provider": {"type": "http", "url": s.url("/slow/3000"), "timeout": 0.3}},
        {"type": "probe", "name": "timeout-pair", "provider": {"type": "http", "url": s.url("/slow/3000"), "timeout": [1, 0.3]}},
        {"type": "probe", "name": "refused", "provider": {"type": "http", "url": "http://127.0.0.1:9/", "timeout": 2}},
        {"type": "probe", "name": "expected-ok", "provider": {"type": "http", "url": s.url("/ok"), "expected_status": [200, 201]}},
        {"type": "probe", "name": "expected-ko", "provider": {"type": "http", "url": s.url("/status/503"), "expected_status": 200}},
        {"type": "probe", "name": "no-verify", "provider": {"type": "http", "url": s.url("/ok"), "verify_tls": false}}
    ]);
    let mut e = experiment(json!([]), method, json!([]));
    e["configuration"] = json!({"hdr": "from-config"});
    let outcome = run_lib(e, opts());
    let j = journal_json(&outcome);
    let run = &j["run"];
    assert_eq!(run[0]["output"]["body"]["method"], "GET");
    assert_eq!(run[0]["output"]["body"]["url"], "/echo?a=1&b=x&b=y");
    assert_eq!(run[0]["output"]["body"]["x_test"], "from-config");
    assert_eq!(
        run[0]["output"]["headers"]["Content-Type"],
        "application/json"
    );
    assert_eq!(run[1]["output"]["body"]["method"], "POST");
    assert_eq!(
        run[1]["output"]["body"]["content_type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(run[1]["output"]["body"]["body"], "k=v+w");
    assert_eq!(run[2]["output"]["body"]["method"], "PUT");
    // Python's json.dumps, as requests sends it (found by tests/differential).
    assert_eq!(
        run[2]["output"]["body"]["body"],
        "{\"k\": [1, 2], \"s\": \"caf\\u00e9\"}"
    );
    assert_eq!(run[3]["output"]["body"], "hello", "non-JSON body is text");
    assert_eq!(run[4]["output"]["status"], 500);
    assert_eq!(
        run[4]["status"], "succeeded",
        "an error status is an output"
    );
    for i in [5, 6] {
        assert_eq!(run[i]["status"], "failed", "{}", run[i]);
        assert!(
            run[i]["exception"][0]
                .as_str()
                .unwrap_or("")
                .contains("activity took too long to complete")
        );
    }
    assert_eq!(run[7]["status"], "failed");
    assert!(
        run[7]["exception"][0]
            .as_str()
            .unwrap_or("")
            .contains("failed to connect to http://127.0.0.1:9/")
    );
    assert_eq!(run[8]["status"], "succeeded");
    assert_eq!(run[9]["status"], "failed");
    assert_eq!(run[10]["status"], "succeeded");
    assert_eq!(
        j["status"], "completed",
        "failed method activities don't fail the run"
    );
    assert_eq!(outcome.exit_code(), 0);
}

#[test]
fn process_provider_options() {
    let method = json!([
        {"type": "action", "name": "list-args", "provider": {"type": "process", "path": "echo", "arguments": ["a", "", null, 3, true]}},
        {"type": "action", "name": "string-args", "provider": {"type": "process", "path": "sh", "arguments": "-c 'echo out; echo err >&2; exit 3'"}},
        {"type": "action", "name": "env", "provider": {"type": "process", "path": "sh", "arguments": ["-c", "echo $CHAOS_T1-$CHAOS_T2"],
            "env": {"CHAOS_T1": "one", "CHAOS_T2": "${two}"}}},
        {"type": "action", "name": "timeout", "provider": {"type": "process", "path": "sleep", "arguments": ["20"], "timeout": 0.3}},
        {"type": "action", "name": "mapping-args", "provider": {"type": "process", "path": "echo", "arguments": {"--flag": "v"}}}
    ]);
    let mut e = experiment(json!([]), method, json!([]));
    e["configuration"] = json!({"two": 2});
    let started = std::time::Instant::now();
    let outcome = run_lib(e, opts());
    assert!(started.elapsed().as_secs() < 15, "the timeout killed sleep");
    let j = journal_json(&outcome);
    let run = &j["run"];
    assert_eq!(
        run[0]["output"],
        json!({"status": 0, "stdout": "a 3 True\n", "stderr": ""})
    );
    assert_eq!(
        run[1]["output"],
        json!({"status": 3, "stdout": "out\n", "stderr": "err\n"})
    );
    assert_eq!(
        run[1]["status"], "succeeded",
        "a non-zero exit is an output"
    );
    assert_eq!(run[2]["output"]["stdout"], "one-2\n");
    assert_eq!(run[3]["status"], "failed");
    assert_eq!(run[3]["output"], Value::Null);
    assert_eq!(
        run[3]["exception"],
        json!(["chaoslib.exceptions.ActivityFailed: process activity took too long to complete\n"])
    );
    assert_eq!(run[4]["output"]["stdout"], "--flag v\n");
}

#[test]
fn python_provider_dispatches_to_drivers_with_scoped_secrets() {
    let method = json!([
        {"type": "probe", "name": "ctx", "provider": {"type": "python", "module": "testing.echo", "func": "context", "secrets": ["mine"]}},
        {"type": "probe", "name": "echo", "provider": {"type": "python", "module": "testing.echo", "func": "echo", "arguments": {"value": "${greeting}"}}},
        {"type": "action", "name": "fails", "provider": {"type": "python", "module": "testing.echo", "func": "fail", "arguments": {"message": "boom"}}},
        {"type": "action", "name": "unknown-func", "provider": {"type": "python", "module": "testing.echo", "func": "nope"}},
        {"type": "action", "name": "unknown-module", "provider": {"type": "python", "module": "chaosaws.ec2.actions", "func": "stop_instances"}}
    ]);
    let mut e = experiment(json!([]), method, json!([]));
    e["configuration"] = json!({"greeting": "hi"});
    e["secrets"] = json!({"mine": {"token": "t0k"}, "other": {"password": "p4ss"}});
    let outcome = run_lib(
        e,
        RunOptions {
            registry: test_registry(),
            ..opts()
        },
    );
    let j = journal_json(&outcome);
    let run = &j["run"];
    assert_eq!(
        run[0]["output"]["secrets"],
        json!({"token": "t0k"}),
        "only the listed scope"
    );
    assert_eq!(run[0]["output"]["configuration"]["greeting"], "hi");
    assert_eq!(run[1]["output"], "hi");
    assert_eq!(run[2]["status"], "failed");
    assert_eq!(
        run[2]["exception"],
        json!(["chaoslib.exceptions.ActivityFailed: boom\n"])
    );
    let unknown = run[3]["exception"][0].as_str().unwrap_or("");
    assert!(
        unknown.contains("no function 'nope'") && unknown.contains("testing.echo.echo"),
        "{unknown}"
    );
    let unknown = run[4]["exception"][0].as_str().unwrap_or("");
    assert!(
        unknown.contains("no native driver provides Python module 'chaosaws.ec2.actions'"),
        "{unknown}"
    );
    assert!(
        unknown.contains("testing.echo.context"),
        "lists what is available: {unknown}"
    );
}

#[test]
fn refs_resolve_to_method_and_hypothesis_activities() {
    let probes = json!([probe_process(
        "hp",
        "echo",
        json!(["from-hypothesis"]),
        json!(0)
    )]);
    let method = json!([
        process("act", "echo", json!(["from-method"])),
        {"ref": "act"},
        {"ref": "hp"}
    ]);
    let outcome = run_lib(experiment(probes, method, json!([{"ref": "act"}])), opts());
    let j = journal_json(&outcome);
    assert_eq!(j["run"][1]["activity"]["name"], "act");
    assert_eq!(j["run"][1]["output"]["stdout"], "from-method\n");
    assert_eq!(j["run"][2]["output"]["stdout"], "from-hypothesis\n");
    assert_eq!(j["rollbacks"][0]["activity"]["name"], "act");
    // A ref to nothing (run without validation) aborts the run.
    let outcome = run_lib(
        experiment(json!([]), json!([{"ref": "ghost"}]), json!([])),
        opts(),
    );
    assert_eq!(outcome.journal.status, Some(Status::Aborted));
    assert_eq!(outcome.exit_code(), 1);
}

#[test]
fn pauses_wait_and_are_skipped_by_dry_pause() {
    let method = json!([{"type": "action", "name": "p", "pauses": {"before": 1, "after": "${wait}"},
        "provider": {"type": "process", "path": "true"}}]);
    let mut e = experiment(json!([]), method, json!([]));
    e["configuration"] = json!({"wait": 1.0});
    let t = std::time::Instant::now();
    let outcome = run_lib(e.clone(), opts());
    assert!(t.elapsed().as_secs_f64() >= 2.0, "both pauses waited");
    assert!(
        outcome.journal.run[0].duration < 0.2,
        "pauses are not part of the activity duration"
    );
    let t = std::time::Instant::now();
    let outcome = run_lib(
        e,
        RunOptions {
            dry: Some(Dry::Pause),
            ..opts()
        },
    );
    // Without the pauses the run takes milliseconds; 1.5 s leaves room for a loaded CI.
    assert!(t.elapsed().as_secs_f64() < 1.5, "dry pause skips pauses");
    assert_eq!(journal_json(&outcome)["run"][0]["status"], "succeeded");
    assert_eq!(journal_json(&outcome)["experiment"]["dry"], "pause");
}

#[test]
fn background_activities_run_concurrently_and_are_waited_for() {
    let method = json!([
        {"type": "action", "name": "bg1", "background": true, "provider": {"type": "process", "path": "sleep", "arguments": ["0.6"]}},
        {"type": "action", "name": "bg2", "background": true, "provider": {"type": "process", "path": "sleep", "arguments": ["0.6"]}},
        process("fg", "true", json!([]))
    ]);
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    let runs = &outcome.journal.run;
    assert_eq!(runs.len(), 3);
    let by_name = |n: &str| {
        runs.iter()
            .find(|r| r.activity["name"] == n)
            .expect("run recorded")
    };
    let (a, b, fg) = (by_name("bg1"), by_name("bg2"), by_name("fg"));
    // Overlap: each background run started before the other ended.
    assert!(
        a.start < b.end && b.start < a.end,
        "background runs overlap"
    );
    assert!(
        fg.start < a.end,
        "the foreground activity did not wait for the background ones"
    );
    assert!(
        a.status.is_some() && b.status.is_some(),
        "waited for before the run ended"
    );
}

/// A background activity is recorded when it starts, as in the reference, and the
/// method (or the rollbacks) goes on only once it has started (or begun its pause
/// before): the journal lists it before the next activity, every time, where the order
/// was a race that the next activity usually won (found by tests/differential).
#[test]
fn background_activities_are_recorded_in_the_order_they_are_declared() {
    let bg = |name: &str, pause: f64| {
        json!({"type": "action", "name": name, "background": true, "pauses": {"before": pause},
               "provider": {"type": "process", "path": "true"}})
    };
    let names = |runs: &[chaos_runner::ActivityRun]| -> Vec<String> {
        runs.iter()
            .map(|r| r.activity["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for round in 0..20 {
        let method = json!([
            bg("bg", 0.0),
            process("fg", "true", json!([])),
            bg("bg-last", 0.0)
        ]);
        let rollbacks = json!([bg("rb-bg", 0.0), process("rb-fg", "true", json!([]))]);
        let outcome = run_lib(experiment(json!([]), method, rollbacks), opts());
        assert_eq!(
            names(&outcome.journal.run),
            ["bg", "fg", "bg-last"],
            "round {round}"
        );
        assert_eq!(
            names(&outcome.journal.rollbacks),
            ["rb-bg", "rb-fg"],
            "round {round}"
        );
    }
    // One that pauses first starts after the pause: what started meanwhile comes first.
    let method = json!([bg("bg-paused", 0.3), process("fg", "true", json!([]))]);
    let outcome = run_lib(experiment(json!([]), method, json!([])), opts());
    assert_eq!(names(&outcome.journal.run), ["fg", "bg-paused"]);
}

#[test]
fn configuration_secrets_and_vars_substitution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let var_file = dir.path().join("vars.yaml");
    std::fs::write(
        &var_file,
        "configuration:\n  from_file: yaml-value\nsecrets:\n  scope:\n    token: file-token\n",
    )
    .expect("write");
    let env_file = dir.path().join("vars.env");
    std::fs::write(&env_file, "# comment\nCHAOS_RUNNER_T_DOTENV=dotenv-value\n").expect("write");
    let json_file = dir.path().join("vars.json");
    std::fs::write(
        &json_file,
        r#"{"configuration": {"overridden": "json-wins"}}"#,
    )
    .expect("write");
    let vars = chaos_runner::load_vars(
        &["typed:int=7".into(), "plain=var-value".into()],
        &[var_file, env_file, json_file],
    )
    .expect("vars load");
    let method = json!([process(
        "sub",
        "echo",
        json!([
            "${plain}",
            "${typed}",
            "${from_file}",
            "${dotenv}",
            "${overridden}",
            "${token}",
            "$$literal",
            "${undefined}"
        ])
    )]);
    let mut e = experiment(json!([]), method, json!([]));
    e["title"] = json!("title ${plain}");
    e["configuration"] = json!({
        "plain": "declared", "typed": 1, "from_file": "declared", "overridden": "declared",
        "dotenv": {"type": "env", "key": "CHAOS_RUNNER_T_DOTENV"},
        "defaulted": {"type": "env", "key": "CHAOS_RUNNER_T_UNSET", "default": "dflt"}
    });
    e["secrets"] = json!({"scope": {"token": "declared-token"}});
    let outcome = run_lib(e, RunOptions { vars, ..opts() });
    let j = journal_json(&outcome);
    assert_eq!(
        j["run"][0]["output"]["stdout"],
        "var-value 7 yaml-value dotenv-value json-wins file-token $literal ${undefined}\n"
    );
    assert_eq!(
        j["experiment"]["title"], "title var-value",
        "the title is substituted"
    );
    assert_eq!(
        j["run"][0]["activity"]["provider"]["arguments"][0], "${plain}",
        "journal keeps the declared activity"
    );
}

#[test]
fn missing_env_configuration_is_an_error_before_the_run() {
    let mut e = experiment(json!([]), json!([]), json!([]));
    e["configuration"] = json!({"x": {"type": "env", "key": "CHAOS_RUNNER_T_SURELY_UNSET"}});
    let err = chaos_runner::run_experiment(
        chaos_runner::Experiment::from_value(e),
        &opts(),
        &chaos_runner::RunHandle::default(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("CHAOS_RUNNER_T_SURELY_UNSET"), "{err}");
}

/// An experiment whose hypothesis is met before the method and broken by it:
/// the probe checks a marker file that the method deletes.
fn deviating(dir: &std::path::Path) -> Value {
    let marker = dir.join("marker");
    std::fs::write(&marker, "x").expect("write marker");
    let m = marker.display().to_string();
    experiment(
        json!([probe_process(
            "marker-exists",
            "test",
            json!(["-f", m]),
            json!(0)
        )]),
        json!([process("remove-marker", "rm", json!(["-f", m]))]),
        json!([process("rollback", "true", json!([]))]),
    )
}

#[test]
fn rollback_strategies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let played = |strategy: Option<RollbackStrategy>, e: Value| {
        let outcome = run_lib(
            e,
            RunOptions {
                rollback_strategy: strategy,
                ..opts()
            },
        );
        (
            outcome.journal.rollbacks.len(),
            outcome.journal.status,
            outcome.journal.deviated,
        )
    };
    let ok = experiment(
        json!([]),
        json!([process("a", "true", json!([]))]),
        json!([process("rb", "true", json!([]))]),
    );
    let failed_before = experiment(
        json!([probe_process(
            "broken",
            "/nonexistent/binary",
            json!([]),
            json!(0)
        )]),
        json!([]),
        json!([process("rb", "true", json!([]))]),
    );
    use RollbackStrategy::*;
    // completed, not deviated
    assert_eq!(
        played(None, ok.clone()),
        (1, Some(Status::Completed), false)
    );
    assert_eq!(
        played(Some(Always), ok.clone()),
        (1, Some(Status::Completed), false)
    );
    assert_eq!(
        played(Some(Never), ok.clone()),
        (0, Some(Status::Completed), false)
    );
    assert_eq!(
        played(Some(Deviated), ok.clone()),
        (0, Some(Status::Completed), false)
    );
    // deviated (status completed): default plays, deviated plays
    assert_eq!(
        played(Some(Default), deviating(dir.path())),
        (1, Some(Status::Completed), true)
    );
    assert_eq!(
        played(Some(Deviated), deviating(dir.path())),
        (1, Some(Status::Completed), true)
    );
    assert_eq!(
        played(Some(Never), deviating(dir.path())),
        (0, Some(Status::Completed), true)
    );
    // failed (a hypothesis probe could not run): default skips, always plays
    assert_eq!(
        played(Some(Default), failed_before.clone()),
        (0, Some(Status::Failed), false)
    );
    assert_eq!(
        played(Some(Always), failed_before.clone()),
        (1, Some(Status::Failed), false)
    );
    // the experiment's runtime section is honoured when no option is given
    let mut rt = ok;
    rt["runtime"] = json!({"rollbacks": {"strategy": "never"}});
    assert_eq!(
        played(None, rt.clone()),
        (0, Some(Status::Completed), false)
    );
    assert_eq!(
        played(Some(Always), rt),
        (1, Some(Status::Completed), false),
        "the option wins"
    );
}

#[test]
fn hypothesis_not_met_before_the_method_skips_the_method() {
    let e = experiment(
        json!([probe_process("fails", "false", json!([]), json!(0))]),
        json!([process("never-runs", "true", json!([]))]),
        json!([process("rb", "true", json!([]))]),
    );
    let outcome = run_lib(e, opts());
    let j = journal_json(&outcome);
    assert_eq!(j["status"], "completed", "the reference's journal status");
    assert_eq!(j["deviated"], false);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], false);
    assert_eq!(j["steady_states"]["after"], Value::Null);
    assert_eq!(j["run"], json!([]));
    assert_eq!(
        statuses(&j["rollbacks"]),
        vec![("rb".to_string(), "succeeded".to_string())]
    );
    assert_eq!(outcome.before_not_met.as_deref(), Some("fails"));
    assert_eq!(outcome.exit_code(), 1, "deliberate difference: exit 1");
}

#[test]
fn hypothesis_strategies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with = |strategy: Strategy| {
        let outcome = run_lib(
            deviating(dir.path()),
            RunOptions {
                strategy: Some(strategy),
                hypothesis_frequency: 0.1,
                ..opts()
            },
        );
        journal_json(&outcome)
    };
    let j = with(Strategy::Default);
    assert_eq!(
        (
            j["steady_states"]["before"]["steady_state_met"].clone(),
            j["steady_states"]["after"]["steady_state_met"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(j["deviated"], true);
    let j = with(Strategy::BeforeMethodOnly);
    assert_eq!(
        (
            j["steady_states"]["before"]["steady_state_met"].clone(),
            j["steady_states"]["after"].clone()
        ),
        (json!(true), Value::Null)
    );
    assert_eq!(j["deviated"], false);
    let j = with(Strategy::AfterMethodOnly);
    assert_eq!(
        (
            j["steady_states"]["before"].clone(),
            j["steady_states"]["after"]["steady_state_met"].clone()
        ),
        (Value::Null, json!(false))
    );
    assert_eq!(j["deviated"], true);
    let j = with(Strategy::DuringMethodOnly);
    assert_eq!(
        (
            j["steady_states"]["before"].clone(),
            j["steady_states"]["after"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert!(
        !j["steady_states"]["during"]
            .as_array()
            .is_none_or(|d| d.is_empty()),
        "ran during the method"
    );
    let j = with(Strategy::Continuously);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(j["steady_states"]["after"]["steady_state_met"], false);
    assert!(
        !j["steady_states"]["during"]
            .as_array()
            .is_none_or(|d| d.is_empty())
    );
}

#[test]
fn continuous_hypothesis_fail_fast_stops_the_method() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("m").display().to_string();
    // The hypothesis holds before the method; the first action breaks it, the
    // continuous check fails, and fail-fast stops the method before its last action.
    let e = experiment(
        json!([probe_process(
            "m",
            "test",
            json!(["!", "-f", marker]),
            json!(0)
        )]),
        json!([
            process("break", "touch", json!([marker])),
            process("wait", "sleep", json!(["1.5"])),
            process("never", "true", json!([]))
        ]),
        json!([]),
    );
    let outcome = run_lib(
        e,
        RunOptions {
            strategy: Some(Strategy::DuringMethodOnly),
            hypothesis_frequency: 0.2,
            fail_fast: true,
            ..opts()
        },
    );
    let j = journal_json(&outcome);
    assert_eq!(j["status"], "failed", "{j:#}");
    let names: Vec<String> = statuses(&j["run"]).into_iter().map(|(n, _)| n).collect();
    // The check that fails may land while `wait` runs (it is let finish) or just before
    // it starts (it never starts); either way `never` must not run.
    assert!(
        names == ["break", "wait"] || names == ["break"],
        "stopped after the running activity: {names:?}"
    );
    assert_eq!(outcome.exit_code(), 1);
}

#[test]
fn dry_runs() {
    let s = server();
    let e = experiment(
        json!([probe_http("p", &s.url("/status/500"), json!(200))]),
        json!([
            process("a", "false", json!([])),
            probe_http("mp", &s.url("/ok"), json!(200))
        ]),
        json!([]),
    );
    let run = |dry| {
        journal_json(&run_lib(
            e.clone(),
            RunOptions {
                dry: Some(dry),
                ..opts()
            },
        ))
    };
    // probes: hypothesis probes don't run and are not checked; actions run.
    let j = run(Dry::Probes);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(
        j["steady_states"]["before"]["probes"][0]["output"],
        Value::Null
    );
    assert_eq!(j["run"][0]["output"]["status"], 1, "actions ran");
    assert_eq!(j["run"][1]["output"], Value::Null);
    // actions: probes run (and the broken hypothesis stops the run), actions don't.
    let j = run(Dry::Actions);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], false);
    // activities: nothing runs.
    let j = run(Dry::Activities);
    assert_eq!(j["steady_states"]["before"]["steady_state_met"], true);
    assert_eq!(j["run"][0]["output"], Value::Null);
    assert_eq!(j["run"][0]["status"], "succeeded");
    assert_eq!(j["experiment"]["dry"], "activities");
}

#[test]
fn journal_shape_and_secret_free_experiment_copy() {
    let s = server();
    let e = experiment(
        json!([probe_http("p", &s.url("/ok"), json!(200))]),
        json!([process("a", "true", json!([]))]),
        json!([]),
    );
    let mut e = e;
    e["x-unknown-key"] = json!({"kept": true});
    let outcome = run_lib(e, opts());
    let j = journal_json(&outcome);
    let keys: Vec<&String> = j
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "chaoslib-version",
            "platform",
            "node",
            "experiment",
            "start",
            "status",
            "deviated",
            "steady_states",
            "run",
            "rollbacks",
            "end",
            "duration"
        ]
    );
    assert_eq!(j["experiment"]["x-unknown-key"], json!({"kept": true}));
    assert_eq!(j["experiment"]["dry"], Value::Null);
    let probe = &j["steady_states"]["before"]["probes"][0];
    let keys: Vec<&String> = probe
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "activity",
            "output",
            "start",
            "status",
            "end",
            "duration",
            "tolerance_met"
        ]
    );
    let run_keys: Vec<&String> = j["run"][0]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        run_keys,
        ["activity", "output", "start", "status", "end", "duration"]
    );
    for t in [&j["start"], &j["end"], &probe["start"]] {
        let t = t.as_str().unwrap_or("");
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with("+00:00"),
            "{t}"
        );
    }
    assert!(j["duration"].as_f64().is_some_and(|d| d >= 0.0));
    let _ = Vars::default();
}
