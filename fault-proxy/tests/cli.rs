//! The binary as toxiproxy-server's drop-in: Toxiproxy's flags, `-config`, refusals with
//! exit 2 naming the problem, the loopback rule, and a clean exit on SIGTERM.

mod common;

use std::time::Duration;

use common::{Api, start};
use test_kit::service::run_to_exit;

const BIN: &str = env!("CARGO_BIN_EXE_fault-proxy");

fn refused(args: &[&str], envs: &[(&str, &str)], needles: &[&str]) {
    let out = run_to_exit(BIN, args, envs, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
    }
}

#[test]
fn toxiproxys_flags_are_accepted_and_config_populates() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("toxiproxy.json");
    std::fs::write(
        &config,
        r#"[{"name":"db","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432"},
            {"name":"off","listen":"127.0.0.1:0","upstream":"127.0.0.1:1","enabled":false}]"#,
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let fp = start(&[
        "-config",
        config,
        "-seed",
        "7",
        "-proxy-metrics",
        "-runtime-metrics=false",
    ]);
    let proxies = Api::new(&fp).get("/proxies").json();
    assert_eq!(proxies["db"]["upstream"], "127.0.0.1:5432");
    assert_eq!(proxies["db"]["enabled"], true);
    assert_eq!(proxies["off"]["enabled"], false);
}

#[test]
fn version_prints_and_exits() {
    let out = run_to_exit(BIN, &["-version"], &[], Duration::from_secs(10));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("toxiproxy-server version 2.5.0"));
}

#[test]
fn bad_flags_and_config_name_the_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "[{\"name\":\"a\",").unwrap();
    let no_upstream = dir.path().join("no-upstream.json");
    std::fs::write(&no_upstream, r#"[{"name":"a","listen":"127.0.0.1:0"}]"#).unwrap();
    let missing = dir.path().join("missing.json");
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    refused(&["-nope"], &[], &["--nope"]);
    refused(&["-port", "99999"], &[], &["-port"]);
    refused(&["-max-connections", "0"], &[], &["max-connections"]);
    refused(
        &["-port", "0", "-config", &p(&missing)],
        &[],
        &["-config", "missing.json"],
    );
    refused(
        &["-port", "0", "-config", &p(&bad_json)],
        &[],
        &["-config", "bad.json", "bad request body"],
    );
    refused(
        &["-port", "0", "-config", &p(&no_upstream)],
        &[],
        &[
            "no-upstream.json",
            "missing required field: upstream at proxy 1",
        ],
    );
    refused(
        &["-host", "0.0.0.0", "-port", "0"],
        &[("FAULT_PROXY_API_TOKEN", "")],
        &["-host 0.0.0.0", "--api-token"],
    );
    refused(
        &["-host", "0.0.0.0", "-port", "0", "--api-token", "has space"],
        &[],
        &["--api-token"],
    );
}

#[test]
fn sigterm_stops_it_cleanly() {
    let mut fp = start(&[]);
    let api = Api::new(&fp);
    let listen = api.proxy("p", "127.0.0.1:9");
    let status = fp
        .terminate(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(&listen).is_err(),
        "proxy still listens after exit"
    );
}
