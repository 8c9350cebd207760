//! The control API against a real fault-proxy process: Toxiproxy 2.5's routes, status
//! codes and bodies, and every refusal leaving the state as it was.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Api, connect, start};
use serde_json::json;

#[test]
fn proxies_are_created_listed_shown_updated_and_deleted() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let empty = api.get("/proxies");
    assert_eq!((empty.status, empty.text.as_str()), (200, "{}"));
    assert_eq!(empty.content_type, "application/json");

    let created = api.post(
        "/proxies",
        r#"{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    let listen = created.json()["listen"].as_str().unwrap().to_string();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{listen}"
    );
    assert_eq!(
        created.json(),
        json!({"name":"db","listen":listen,"upstream":"127.0.0.1:9","enabled":true,"Logger":{},"toxics":[]})
    );
    // Port 0 was answered with a port that really listens.
    TcpStream::connect(&listen).expect("the proxy listens");

    let shown = api.get("/proxies/db");
    assert_eq!((shown.status, shown.json()), (200, created.json()));
    assert_eq!(api.get("/proxies").json(), json!({ "db": created.json() }));

    let toxic = api.toxic("db", r#"{"type":"latency","attributes":{"latency":10}}"#);
    assert_eq!(
        toxic,
        json!({"attributes":{"latency":10,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1})
    );
    let listed = api.get("/proxies/db/toxics");
    assert_eq!(
        (listed.status, listed.json()),
        (200, json!([toxic.clone()]))
    );
    assert_eq!(
        api.get("/proxies/db/toxics/latency_downstream").json(),
        toxic
    );
    let updated = api.post(
        "/proxies/db/toxics/latency_downstream",
        r#"{"attributes":{"jitter":2},"toxicity":0.5,"name":"ignored"}"#,
    );
    assert_eq!(updated.status, 200);
    assert_eq!(
        updated.json(),
        json!({"attributes":{"latency":10,"jitter":2},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":0.5})
    );

    // Disabled: listener gone, listen address kept; re-enabled on the same address.
    let off = api.post("/proxies/db", r#"{"enabled":false,"name":"renamed"}"#);
    assert_eq!(off.status, 200);
    assert_eq!(off.json()["name"], "db");
    assert_eq!(off.json()["enabled"], false);
    assert_eq!(off.json()["listen"], listen.as_str());
    assert!(
        TcpStream::connect(&listen).is_err(),
        "disabled proxy still listens"
    );
    let on = api.post("/proxies/db", r#"{"enabled":true}"#);
    assert_eq!(
        (on.status, on.json()["listen"].as_str()),
        (200, Some(listen.as_str()))
    );
    TcpStream::connect(&listen).expect("re-enabled proxy listens");
    assert_eq!(
        on.json()["toxics"].as_array().unwrap().len(),
        1,
        "toxics survive a disable"
    );

    let upstream = api.post("/proxies/db", r#"{"upstream":"127.0.0.1:10"}"#);
    assert_eq!(upstream.json()["upstream"], "127.0.0.1:10");
    assert_eq!(upstream.json()["listen"], listen.as_str());

    let removed = api.delete("/proxies/db/toxics/latency_downstream");
    assert_eq!((removed.status, removed.text.as_str()), (204, ""));
    let deleted = api.delete("/proxies/db");
    assert_eq!((deleted.status, deleted.text.as_str()), (204, ""));
    assert_eq!(api.get("/proxies").text, "{}");
    assert!(
        TcpStream::connect(&listen).is_err(),
        "deleted proxy still listens"
    );
}

#[test]
fn populate_reset_version_and_metrics() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let populated = api.post(
        "/populate",
        r#"[{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"},{"name":"b","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","enabled":false}]"#,
    );
    assert_eq!(populated.status, 201, "{populated:?}");
    let proxies = populated.json()["proxies"].as_array().unwrap().clone();
    assert_eq!(proxies.len(), 2);
    assert_eq!(
        (proxies[0]["name"].as_str(), proxies[0]["enabled"].as_bool()),
        (Some("a"), Some(true))
    );
    assert_eq!(
        (proxies[1]["name"].as_str(), proxies[1]["enabled"].as_bool()),
        (Some("b"), Some(false))
    );
    assert_eq!(api.post("/populate", "[]").json(), json!({"proxies": null}));

    // Same listen and upstream: left alone (its toxics too).
    let a_listen = proxies[0]["listen"].as_str().unwrap().to_string();
    api.toxic("a", r#"{"type":"timeout"}"#);
    let again = api.post(
        "/populate",
        &format!(r#"[{{"name":"a","listen":"{a_listen}","upstream":"127.0.0.1:9"}}]"#),
    );
    assert_eq!(again.status, 201);
    assert_eq!(
        api.get("/proxies/a/toxics")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let reset = api.post("/reset", "");
    assert_eq!((reset.status, reset.text.as_str()), (204, ""));
    let after = api.get("/proxies").json();
    assert_eq!(after["a"]["toxics"], json!([]));
    assert_eq!(after["b"]["enabled"], true, "reset enables every proxy");

    let version = api.get("/version");
    assert_eq!((version.status, version.text.as_str()), (200, "2.5.0"));
    assert_eq!(version.content_type, "text/plain;charset=utf-8");

    let metrics = api.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text
            .contains("fault_proxy_connections_refused_total{proxy=\"a\"} 0"),
        "{}",
        metrics.text
    );
}

#[test]
fn refusals_use_toxiproxys_error_object_and_change_nothing() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("web", "127.0.0.1:9");
    api.toxic(
        "web",
        r#"{"name":"slow","type":"latency","attributes":{"latency":5}}"#,
    );
    let before = api.get("/proxies").json();
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", "/proxies", "{bad", 400, "bad request body: "),
        ("POST", "/proxies", "", 400, "bad request body: EOF"),
        (
            "POST",
            "/proxies",
            r#"{"name":5}"#,
            400,
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string",
        ),
        (
            "POST",
            "/proxies",
            r#"{"listen":"127.0.0.1:0"}"#,
            400,
            "missing required field: name",
        ),
        (
            "POST",
            "/proxies",
            r#"{"name":"x"}"#,
            400,
            "missing required field: upstream",
        ),
        (
            "POST",
            "/proxies",
            r#"{"name":"web","upstream":"127.0.0.1:9"}"#,
            409,
            "proxy already exists",
        ),
        (
            "POST",
            "/proxies",
            &format!(r#"{{"name":"x","listen":"{listen}","upstream":"127.0.0.1:9"}}"#),
            409,
            "bind: address already in use",
        ),
        (
            "POST",
            "/proxies/web",
            r#"{"enabled":"yes"}"#,
            400,
            "Proxy.enabled of type bool",
        ),
        (
            "POST",
            "/proxies/web",
            r#"{"listen":"no-such-host.invalid:1"}"#,
            500,
            "listen tcp: lookup no-such-host.invalid",
        ),
        (
            "POST",
            "/proxies/web",
            r#"{"listen":"nonsense"}"#,
            500,
            "listen tcp: address nonsense: missing port in address",
        ),
        (
            "POST",
            "/proxies/web",
            r#"{"listen":"127.0.0.1:99999"}"#,
            500,
            "listen tcp: address 99999: invalid port",
        ),
        ("POST", "/proxies/nope", "{}", 404, "proxy not found"),
        ("DELETE", "/proxies/nope", "", 404, "proxy not found"),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"nope"}"#,
            400,
            "invalid toxic type",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"latency","stream":"sideways"}"#,
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"name":"slow","type":"latency"}"#,
            409,
            "toxic already exists",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"latency","toxicity":1.5}"#,
            400,
            "toxicity",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"latency","attributes":{"latency":99999999999999}}"#,
            400,
            "attributes.latency",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"timeout","attributes":{"timeout":1.5}}"#,
            400,
            "cannot unmarshal number 1.5 into Go struct field TimeoutToxic.attributes.timeout of type int64",
        ),
        (
            "POST",
            "/proxies/web/toxics",
            r#"{"type":"http_status","attributes":{"status":99}}"#,
            400,
            "attributes.status",
        ),
        (
            "POST",
            "/proxies/web/toxics/slow",
            r#"{"attributes":{"latency":7,"jitter":"x"}}"#,
            400,
            "LatencyToxic.attributes.jitter",
        ),
        (
            "POST",
            "/proxies/web/toxics/nope",
            "{}",
            404,
            "toxic not found",
        ),
        (
            "GET",
            "/proxies/web/toxics/nope",
            "",
            404,
            "toxic not found",
        ),
        (
            "DELETE",
            "/proxies/web/toxics/nope",
            "",
            404,
            "toxic not found",
        ),
        (
            "POST",
            "/populate",
            "{}",
            400,
            "bad request body: json: cannot unmarshal object",
        ),
        (
            "POST",
            "/populate",
            r#"[{"name":"n","upstream":"u:1"},{"upstream":"u:1"}]"#,
            400,
            "missing required field: name at proxy 2",
        ),
        (
            "POST",
            "/populate",
            &format!(
                r#"[{{"name":"n","listen":"127.0.0.1:0","upstream":"u:1"}},{{"name":"m","listen":"{listen}","upstream":"u:1"}}]"#
            ),
            409,
            "address already in use",
        ),
    ];
    for (method, path, body, status, needle) in cases {
        let a = api.call(method, path, Some(body));
        assert_eq!(a.status, *status, "{method} {path} {body}: {a:?}");
        let err = a.json();
        assert_eq!(err["status"], *status, "{method} {path} {body}: {a:?}");
        let message = err["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{method} {path} {body}: {message:?} lacks {needle:?}"
        );
        if *path != "/populate" {
            assert_eq!(a.content_type, "text/plain; charset=utf-8");
            assert!(
                a.text.ends_with("}\n"),
                "Go's http.Error adds a newline: {:?}",
                a.text
            );
        }
        assert_eq!(
            api.get("/proxies").json(),
            before,
            "state changed by {method} {path} {body}"
        );
    }
}

#[test]
fn browsers_unknown_routes_and_wrong_methods_are_refused_as_toxiproxy_does() {
    let fp = start(&[]);
    let browser = reqwest::blocking::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64)")
        .build()
        .unwrap();
    let a = browser.post(fp.url("/proxies")).body("{}").send().unwrap();
    assert_eq!(a.status().as_u16(), 403);
    assert_eq!(a.text().unwrap(), "User agent not allowed\n");
    let api = Api::new(&fp);
    let missing = api.get("/nothing");
    assert_eq!(
        (missing.status, missing.text.as_str()),
        (404, "404 page not found\n")
    );
    let wrong = api.call("PUT", "/proxies", Some("{}"));
    assert_eq!((wrong.status, wrong.text.as_str()), (405, ""));
}

#[test]
fn with_a_token_changes_need_it_and_reads_do_not() {
    let fp = common::ProxyServer::launch(common::Flavour::Ours, common::BIN)
        .env("FAULT_PROXY_API_TOKEN", "t0ken")
        .start();
    let anonymous = Api::new(&fp);
    let refused = anonymous.post("/proxies", r#"{"name":"a","upstream":"127.0.0.1:9"}"#);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["status"], 401);
    let wrong = Api::new(&fp).with_token("t0ken-not");
    assert_eq!(wrong.post("/reset", "").status, 401);
    assert_eq!(anonymous.get("/proxies").status, 200);
    assert_eq!(anonymous.get("/version").status, 200);
    let raw = reqwest::blocking::Client::new()
        .delete(fp.url("/proxies/a"))
        .send()
        .unwrap();
    assert_eq!(
        raw.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some(r#"Bearer realm="fault-proxy""#)
    );
    let owner = Api::new(&fp).with_token("t0ken");
    assert_eq!(
        owner
            .post(
                "/proxies",
                r#"{"name":"a","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}"#
            )
            .status,
        201
    );
    assert_eq!(
        anonymous.get("/proxies").json().as_object().unwrap().len(),
        1
    );
}

#[test]
fn hostile_clients_leave_the_api_answering() {
    let fp = start(&[]);
    let api = Api::new(&fp);
    // A huge header: refused, the server stays up.
    let mut s = connect(&fp.addr, Duration::from_secs(5));
    let big = "x".repeat(256 * 1024);
    let _ = write!(
        s,
        "GET /proxies HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n"
    );
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a 256 KiB header was served: {}",
        &answer[..answer.len().min(80)]
    );
    // A body over the limit: 413 in Toxiproxy's error shape.
    let huge = format!(
        r#"{{"name":"{}","upstream":"u:1"}}"#,
        "n".repeat(2 * 1024 * 1024)
    );
    let a = api.post("/proxies", &huge);
    assert_eq!(a.status, 413, "{}", &a.text[..a.text.len().min(200)]);
    assert_eq!(a.json()["status"], 413);
    // The connection is closed after it (the rest of the body was never read).
    let mut s = connect(&fp.addr, Duration::from_secs(5));
    let _ = write!(
        s,
        "POST /proxies HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    );
    let _ = s.write_all(&vec![b' '; 1024 * 1024 + 10]);
    let mut answer = Vec::new();
    let closed = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        closed.is_ok(),
        "not closed after the 413: {closed:?} {answer:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer:?}"
    );
    // Deeply nested JSON: refused, no crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(api.post("/populate", &deep).status, 400);
    // Many idle connections to the API, held while it is asked.
    let idle: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(&fp.addr).ok())
        .collect();
    assert_eq!(idle.len(), 200);
    let started = std::time::Instant::now();
    assert_eq!(api.get("/version").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}
