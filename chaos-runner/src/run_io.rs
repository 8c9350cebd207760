//! What a run's providers and drivers share: the one async runtime (created on first
//! use), the HTTP clients built so far, and the environment variables activities
//! exported.

use crate::runtime::AsyncRuntime;
use reqwest::Client;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// What providers share for a whole run: the one async runtime (created on first use),
/// the HTTP clients built so far, and the environment variables activities exported.
#[derive(Debug, Default)]
pub struct RunIo {
    pub runtime: AsyncRuntime,
    pub http: Clients,
    pub exported: Exported,
}

/// Environment variables an activity sets for the rest of the run (chaostoolkit-toxiproxy's
/// `<proxy>_PORT`). The reference sets them in its own process environment, where later
/// process children and Python functions find them; chaos-runner keeps them here (its
/// own environment is never changed while threads run) and hands them to both.
#[derive(Debug, Default)]
pub struct Exported(Mutex<BTreeMap<String, String>>);

impl Exported {
    pub fn set(&self, name: impl Into<String>, value: impl Into<String>) {
        self.lock().insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    /// Every variable set so far.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Client settings that can't be set per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub verify_tls: bool,
    pub connect_ms: Option<u64>,
    pub read_ms: Option<u64>,
}

/// The clients built so far, one per client-level setting, reused across activities
/// and threads: building a client (TLS set-up) is the costly part. They run on the
/// run's one runtime ([`RunIo`]).
#[derive(Debug, Default)]
pub struct Clients(Mutex<HashMap<ClientKey, Client>>);

impl Clients {
    pub fn get(&self, key: ClientKey) -> Result<Client, ClientError> {
        let mut clients = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let c = new_client(key)?;
        clients.insert(key, c.clone());
        Ok(c)
    }
}

impl Clients {
    /// The client with `requests`' defaults (TLS verified, no timeouts, a new
    /// connection per request), for native drivers calling an HTTP API. Call it inside
    /// the run's runtime ([`RunIo::runtime`]).
    pub fn plain(&self) -> Result<Client, ClientError> {
        self.get(ClientKey {
            verify_tls: true,
            connect_ms: None,
            read_ms: None,
        })
    }
}

/// Why no client could be built (TLS set-up).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot create an HTTP client: {0}")]
pub struct ClientError(String);

fn cannot_create(e: impl std::fmt::Display) -> ClientError {
    ClientError(e.to_string())
}

fn new_client(key: ClientKey) -> Result<Client, ClientError> {
    let mut builder = if key.verify_tls {
        // Same verification as reqwest's default, but the system roots are read on the
        // first https handshake only: plain http:// runs never pay for them.
        let tls = crate::tls::verifying_config().map_err(cannot_create)?;
        Client::builder().tls_backend_preconfigured(tls)
    } else {
        crate::tls::install_default_provider();
        Client::builder().danger_accept_invalid_certs(true)
    };
    if let Some(ms) = key.connect_ms {
        builder = builder.connect_timeout(Duration::from_millis(ms));
    }
    // No connection reuse between requests, as chaoslib (a new `requests` call each time).
    builder = builder.pool_max_idle_per_host(0);
    // requests' read timeout: the longest wait for the next bytes, restarted by each read.
    if let Some(ms) = key.read_ms {
        builder = builder.read_timeout(Duration::from_millis(ms));
    }
    builder.build().map_err(cannot_create)
}
