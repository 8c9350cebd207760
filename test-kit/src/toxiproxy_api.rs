//! A server speaking Toxiproxy's HTTP API, as a real process on 127.0.0.1: the real
//! Toxiproxy ([`crate::tier::toxiproxy_bin`]) or anything taking its `-host`/`-port`
//! flags. Started on a given port, waited for (bounded), read through its API, and
//! killed and reaped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the server may take to answer `GET /version`.
const START_BUDGET: Duration = Duration::from_secs(15);

pub struct ToxiproxyServer {
    child: Child,
    /// The API's port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    client: reqwest::blocking::Client,
}

impl ToxiproxyServer {
    /// Starts `bin -host 127.0.0.1 -port <port>` (its output in `log`) and waits until
    /// its API answers.
    pub fn start(bin: &Path, port: u16, log: &Path) -> ToxiproxyServer {
        let out = std::fs::File::create(log).expect("create the server's log");
        let err = out.try_clone().expect("clone the log file");
        let child = Command::new(bin)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        crate::service::install_tls_provider();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("reqwest client");
        let mut server = ToxiproxyServer {
            child,
            port,
            log: log.to_path_buf(),
            client,
        };
        let deadline = Instant::now() + START_BUDGET;
        loop {
            if server.client.get(server.url("/version")).send().is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "{} exited early with {status}:\n{}",
                    bin.display(),
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} never answered on port {port}:\n{}",
                bin.display(),
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET <path>` as JSON.
    pub fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        response
            .json()
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    /// Every proxy, with its toxics (`GET /proxies`).
    pub fn proxies(&self) -> Value {
        self.get("/proxies")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ToxiproxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
