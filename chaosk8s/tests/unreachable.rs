//! Failures that need no cluster: an API server that is down or silent fails the call
//! within seconds with a one-line cause naming the server; bad names, arguments and
//! kubeconfigs fail before any request.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

fn call_with(
    module: &str,
    func: &str,
    arguments: Value,
    env: &HashMap<String, String>,
) -> Result<Value, chaosk8s::Error> {
    let args = arguments.as_object().cloned().unwrap_or_default();
    chaosk8s::call_with_env(module, func, &args, &Map::new(), &Map::new(), &|k| {
        env.get(k).cloned()
    })
}

/// An environment with no kubeconfig (HOME is an empty directory) and the given host.
fn host_env(home: &tempfile::TempDir, host: &str) -> HashMap<String, String> {
    HashMap::from([
        ("HOME".to_string(), home.path().display().to_string()),
        ("KUBERNETES_HOST".to_string(), host.to_string()),
    ])
}

#[test]
fn refused_connection_fails_fast_naming_the_server() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: connections are refused
    let home = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let err = call_with(
        "chaosk8s.probes",
        "all_microservices_healthy",
        json!({}),
        &host_env(&home, &format!("http://127.0.0.1:{port}")),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, chaosk8s::Error::Connection(_)), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn silent_server_fails_within_the_connect_timeout() {
    // Accepts TCP connections but never completes a TLS handshake.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) && held.len() < 8 {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        held
    });
    let home = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let err = call_with(
        "chaosk8s.pod.probes",
        "count_pods",
        json!({"label_selector": "app=x"}),
        &host_env(&home, &format!("https://127.0.0.1:{port}")),
    )
    .unwrap_err();
    let elapsed = start.elapsed();
    let message = err.to_string();
    assert!(matches!(err, chaosk8s::Error::Connection(_)), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    drop(holder);
}

#[test]
fn unknown_functions_and_arguments_fail_before_any_request() {
    // No cluster at all: these must not try to reach one.
    let home = tempfile::tempdir().unwrap();
    let env = host_env(&home, "http://127.0.0.1:1");
    let err = call_with("chaosk8s.node.actions", "kill_node", json!({}), &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown function chaosk8s.node.actions.kill_node"
    );
    let err = call_with("chaosk8s.actions", "kill_microservice", json!({}), &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument 'name': required by chaosk8s.actions.kill_microservice but not given"
    );
    let err = call_with(
        "chaosk8s.actions",
        "scale_microservice",
        json!({"name": "web", "replicas": "three"}),
        &env,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid argument 'replicas': must be an integer, got \"three\""
    );
}

#[test]
fn unusable_kubeconfig_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
        .unwrap();
    let env = HashMap::from([("KUBECONFIG".to_string(), path.display().to_string())]);
    let err = call_with(
        "chaosk8s.probes",
        "all_microservices_healthy",
        json!({}),
        &env,
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, chaosk8s::Error::Config(_)), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn works_when_called_from_async_code() {
    // The runner may call from inside a tokio runtime; that must not panic.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let home = tempfile::tempdir().unwrap();
    let env = host_env(&home, "http://127.0.0.1:1");
    let err = rt
        .block_on(async {
            call_with(
                "chaosk8s.probes",
                "all_microservices_healthy",
                json!({}),
                &env,
            )
        })
        .unwrap_err();
    assert!(matches!(err, chaosk8s::Error::Connection(_)), "{err}");
}
