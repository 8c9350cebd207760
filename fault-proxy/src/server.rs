//! What the binary runs: check the flags, start the data plane, load `-config`, serve
//! the API until SIGTERM/SIGINT, then close every proxy.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::access::{Access, parse_token};
use crate::api::{AppState, routes};
use crate::cli::Cli;
use crate::dataplane::DataPlane;
use crate::metrics::Metrics;
use crate::model::ProxySpec;
use crate::registry::Registry;

/// Why the binary stops early.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A bad flag or config file: exit 2, as for flags Go's `flag` package refuses.
    #[error("{0}")]
    Usage(String),
    /// Anything else: exit 1.
    #[error("{0:#}")]
    Runtime(anyhow::Error),
}

/// Open API connections at most (an idle one is closed after 5 s without a request).
const MAX_API_CONNECTIONS: usize = 1024;

fn api_addr(cli: &Cli) -> Result<SocketAddr, Failure> {
    let port: u16 = cli.port.parse().map_err(|_| {
        Failure::Usage(format!(
            "-port: {:?} is not a port number (0 to 65535)",
            cli.port
        ))
    })?;
    let host = cli.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Usage(format!("-host: cannot resolve {:?}: {e}", cli.host)))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| Failure::Usage(format!("-host: {:?} has no address", cli.host)))
}

/// Runs the server until a signal stops it.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let addr = api_addr(&cli)?;
    let token = match cli.api_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            parse_token(t)
                .map_err(|e| Failure::Usage(format!("--api-token (FAULT_PROXY_API_TOKEN): {e}")))?,
        ),
    };
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(Failure::Usage(format!(
            "-host {}: the API would be reachable from other machines, and anyone reaching it can break every service behind the proxy; give --api-token TOKEN (or FAULT_PROXY_API_TOKEN), or keep -host on loopback",
            cli.host
        )));
    }
    let config = match &cli.config {
        None => None,
        Some(path) => {
            let text = std::fs::read(path)
                .map_err(|e| Failure::Usage(format!("-config {}: {e}", path.display())))?;
            Some(ProxySpec::list_from_body(&text).map_err(|e| {
                Failure::Usage(format!("-config {}: {}", path.display(), e.message))
            })?)
        }
    };

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // TOKIO_WORKER_THREADS, else one per core from 4 cores up, else one: on a small
    // machine a second worker bought no throughput in bench/proxy.sh (the proxy shares
    // the cores with its clients and upstreams) and cost ~0.25 MB of resident memory.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(if cores < 4 { 1 } else { cores });
    }
    let runtime = builder
        .thread_name("fault-proxy-data")
        .enable_all()
        .build()
        .context("cannot start the data plane's runtime")
        .map_err(Failure::Runtime)?;
    let metrics = Arc::new(Metrics::new());
    let seed = cli.seed.map(|s| s as u64);
    let plane = Arc::new(DataPlane::new(
        runtime.handle().clone(),
        cli.max_connections,
        metrics.clone(),
        seed,
    ));
    let state = web::Data::new(AppState {
        registry: Registry::new(plane),
        metrics,
        access: Access::new(token),
    });
    if let Some(specs) = config {
        let path = cli
            .config
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let n = specs.len();
        runtime
            .block_on(state.registry.populate(specs))
            .map_err(|e| Failure::Usage(format!("-config {path}: {}", e.message)))?;
        tracing::info!(proxies = n, config = %path, "populated proxies from file");
    }

    let socket = std::net::TcpListener::bind(addr)
        .with_context(|| format!("-host/-port: cannot listen on {addr}"))
        .map_err(Failure::Runtime)?;
    let bound = socket
        .local_addr()
        .map_err(|e| Failure::Runtime(e.into()))?;
    let served = state.clone();
    let result = actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || App::new().app_data(served.clone()).configure(routes))
            .workers(1)
            .max_connections(MAX_API_CONNECTIONS)
            .client_request_timeout(std::time::Duration::from_secs(5))
            .shutdown_timeout(5)
            .disable_signals()
            .listen(socket)?
            .run();
        if let Some(path) = &cli.addr_file {
            service_common::listener::write_addr_file(path, bound)
                .map_err(std::io::Error::other)?;
        }
        tracing::info!(host = %cli.host, port = bound.port(), version = crate::api::TOXIPROXY_VERSION, "API listening on {bound}");
        service_common::shutdown::run_until_signalled(server).await
    });
    runtime.block_on(state.registry.stop_all());
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
        .context("API server failed")
        .map_err(Failure::Runtime)
}
