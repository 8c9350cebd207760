//! Asking the services how they are: readiness polls and the consumer's breaker state.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;

/// A blocking HTTP client for 127.0.0.1 with short timeouts. Proxies are ignored: the
/// services are always local and an `http_proxy` in the environment must not reroute them.
pub fn client() -> Result<reqwest::blocking::Client> {
    builder().build().context("cannot create an HTTP client")
}

/// [`client`], but every request on a new connection: what a new user gets through a
/// Service (a kept-alive connection stays with the pod it first reached).
pub fn client_without_reuse() -> Result<reqwest::blocking::Client> {
    builder()
        .pool_max_idle_per_host(0)
        .build()
        .context("cannot create an HTTP client")
}

fn builder() -> reqwest::blocking::ClientBuilder {
    // reqwest is built without a TLS provider of its own (the workspace's one is ring);
    // building a client with none installed panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
}

/// What the consumer's `/health/ready` answers (see docs/contracts.md).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ConsumerReadiness {
    pub status: String,
    #[serde(default)]
    pub resilience: Option<String>,
    #[serde(default)]
    pub circuit: Option<String>,
}

/// Result of one readiness request.
#[derive(Debug)]
pub enum Probe {
    Ready(Option<ConsumerReadiness>),
    NotReady(String),
}

/// One readiness request to `url` (`Service::ready_url`, or a node port's): 200 =
/// ready; the body is parsed when it is the consumer's.
pub fn probe_url(client: &reqwest::blocking::Client, url: &str) -> Probe {
    match client.get(url).send() {
        Ok(response) if response.status().is_success() => {
            Probe::Ready(response.json::<ConsumerReadiness>().ok())
        }
        Ok(response) => Probe::NotReady(format!("HTTP {}", response.status().as_u16())),
        Err(err) if err.is_timeout() => Probe::NotReady("no answer within 2 s".into()),
        Err(err) if err.is_connect() => Probe::NotReady("connection refused".into()),
        Err(err) => Probe::NotReady(err.to_string()),
    }
}

/// Why waiting for readiness stopped without success.
#[derive(Debug)]
pub enum WaitError {
    /// The process is gone (`detail` says how, e.g. its exit status).
    Exited(String),
    TimedOut(String),
    Interrupted,
}

/// Polls the readiness `url` until it answers 200, the process dies (`exited` returns
/// its exit description), the deadline passes, or the user interrupts.
pub fn wait_ready(
    client: &reqwest::blocking::Client,
    url: &str,
    timeout: Duration,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<(), WaitError> {
    let deadline = Instant::now() + timeout;
    loop {
        if crate::interrupt::check().is_err() {
            return Err(WaitError::Interrupted);
        }
        if let Some(how) = exited() {
            return Err(WaitError::Exited(how));
        }
        match probe_url(client, url) {
            Probe::Ready(_) => return Ok(()),
            Probe::NotReady(reason) if Instant::now() >= deadline => {
                return Err(WaitError::TimedOut(reason));
            }
            Probe::NotReady(_) => {}
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
