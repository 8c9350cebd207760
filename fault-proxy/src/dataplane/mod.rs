//! The data plane: listeners and connections of running proxies, on their own tokio
//! runtime (the API runs on actix's).

mod chain;
mod connection;
mod http;
mod link;
mod timer;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::{SmallRng, StdRng};
use rand::{RngExt, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use connection::ProxyCtx;
pub use link::{QUEUE_CHUNKS, READ_BUFFER};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::ToxicList;

/// Connections per proxy unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long a connection to the upstream may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing a proxy waits for its connections to go.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Where proxies run.
pub struct DataPlane {
    handle: tokio::runtime::Handle,
    max_connections: usize,
    metrics: Arc<Metrics>,
    seeds: Mutex<StdRng>,
}

/// A listening socket not yet serving.
pub struct Bound {
    listener: Arc<TcpListener>,
    pub addr: SocketAddr,
}

/// Go's reading of a listen address (`net.Listen("tcp", listen)`): `""` and `":port"`
/// mean every interface; errors worded as Go words them.
fn resolve_listen(listen: &str) -> Result<SocketAddr, ApiError> {
    let go = |what: &str, detail: &str| {
        ApiError::new(format!("listen tcp: address {what}: {detail}"), 500)
    };
    let (host, port) = if listen.is_empty() {
        ("", "0")
    } else {
        let Some((host, port)) = listen.rsplit_once(':') else {
            return Err(go(listen, "missing port in address"));
        };
        (host.trim_start_matches('[').trim_end_matches(']'), port)
    };
    let port: u16 = match port.parse::<u32>() {
        Ok(p) if p <= 65535 => p as u16,
        _ if port.is_empty() => 0,
        _ => return Err(go(port, "invalid port")),
    };
    let host = if host.is_empty() { "::" } else { host };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| ApiError::new(format!("listen tcp: lookup {host}: {e}"), 500))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| ApiError::new(format!("listen tcp: lookup {host}: no such host"), 500))
}

impl DataPlane {
    pub fn new(
        handle: tokio::runtime::Handle,
        max_connections: usize,
        metrics: Arc<Metrics>,
        seed: Option<u64>,
    ) -> Self {
        let seeds = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Self {
            handle,
            max_connections,
            metrics,
            seeds: Mutex::new(seeds),
        }
    }

    /// Binds `listen`. A taken address is 409 (Toxiproxy answers 500), with Go's words.
    pub fn bind(&self, listen: &str) -> Result<Bound, ApiError> {
        let addr = resolve_listen(listen)?;
        let std_listener = std::net::TcpListener::bind(addr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                ApiError::new(
                    format!("listen tcp {listen}: bind: address already in use"),
                    409,
                )
            } else {
                ApiError::new(format!("listen tcp {listen}: bind: {e}"), 500)
            }
        })?;
        let internal = |e: std::io::Error| ApiError::new(format!("listen tcp {listen}: {e}"), 500);
        std_listener.set_nonblocking(true).map_err(internal)?;
        let _guard = self.handle.enter();
        let listener = TcpListener::from_std(std_listener).map_err(internal)?;
        let addr = listener.local_addr().map_err(internal)?;
        Ok(Bound {
            listener: Arc::new(listener),
            addr,
        })
    }

    fn rngs(&self) -> [SmallRng; 2] {
        let mut seeds = self.seeds.lock().unwrap_or_else(|e| e.into_inner());
        [
            SmallRng::seed_from_u64(seeds.random()),
            SmallRng::seed_from_u64(seeds.random()),
        ]
    }
}

struct Accepting {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Arc<TcpListener>>,
    close: watch::Sender<bool>,
}

/// A proxy's running part: its accept loop and connections, if enabled.
pub struct ProxyRuntime {
    name: String,
    accepting: Option<Accepting>,
}

impl ProxyRuntime {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            accepting: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.accepting.is_some()
    }

    /// Starts accepting on `bound`, connecting each client to `upstream`.
    pub fn start(
        &mut self,
        plane: &Arc<DataPlane>,
        bound: Bound,
        upstream: &str,
        toxics: watch::Receiver<Arc<ToxicList>>,
    ) {
        let listen = bound.addr.to_string();
        let m = &plane.metrics;
        let link = |direction: &str, v: &prometheus::IntCounterVec| {
            v.with_label_values(&[direction, &self.name, &listen, upstream])
        };
        let ctx = Arc::new(ProxyCtx {
            name: self.name.clone(),
            upstream: upstream.to_string(),
            toxics,
            active: Arc::new(AtomicUsize::new(0)),
            max_connections: plane.max_connections,
            connect_timeout: CONNECT_TIMEOUT,
            received: [
                link("upstream", &m.received),
                link("downstream", &m.received),
            ],
            sent: [link("upstream", &m.sent), link("downstream", &m.sent)],
            accepted: m.accepted.with_label_values(&[&self.name]),
            refused: m.refused.with_label_values(&[&self.name]),
            active_gauge: m.active.with_label_values(&[&self.name]),
            http_answers: m.http_answers.with_label_values(&[&self.name]),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let (close_tx, close_rx) = watch::channel(false);
        let task = plane.handle.spawn(accept_loop(
            bound.listener,
            stop_rx,
            ctx,
            close_rx,
            plane.clone(),
        ));
        tracing::info!(proxy = %self.name, listen = %listen, upstream, "started proxy");
        self.accepting = Some(Accepting {
            stop: stop_tx,
            task,
            close: close_tx,
        });
    }

    /// Stops accepting and closes every connection; gives back the listening socket
    /// (to serve on again, or to drop, which closes it).
    pub async fn stop(&mut self) -> Option<Bound> {
        let accepting = self.accepting.take()?;
        let _ = accepting.stop.send(());
        let listener = accepting.task.await.ok();
        let _ = accepting.close.send(true);
        let _ = tokio::time::timeout(CLOSE_WAIT, accepting.close.closed()).await;
        tracing::info!(proxy = %self.name, "terminated proxy");
        let listener = listener?;
        let addr = listener.local_addr().ok()?;
        Some(Bound { listener, addr })
    }
}

async fn accept_loop(
    listener: Arc<TcpListener>,
    mut stop: oneshot::Receiver<()>,
    ctx: Arc<ProxyCtx>,
    close: watch::Receiver<bool>,
    plane: Arc<DataPlane>,
) -> Arc<TcpListener> {
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return listener,
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => match connection::Slot::take(&ctx) {
                    Some(slot) => {
                        tracing::debug!(proxy = %ctx.name, client = %peer, "accepted client");
                        tokio::spawn(connection::serve(client, slot, close.clone(), plane.rngs()));
                    }
                    None => {
                        ctx.refused.inc();
                        tracing::warn!(proxy = %ctx.name, client = %peer, max = ctx.max_connections, "connection cap reached: closed at once");
                        drop(client);
                    }
                },
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(proxy = %ctx.name, error = %e, "error while accepting client");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::resolve_listen;

    #[test]
    fn listen_addresses_read_and_fail_as_in_go() {
        assert_eq!(resolve_listen("").unwrap().to_string(), "[::]:0");
        assert_eq!(resolve_listen(":8080").unwrap().to_string(), "[::]:8080");
        assert_eq!(
            resolve_listen("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(resolve_listen("[::1]:5").unwrap().to_string(), "[::1]:5");
        let err = |l: &str| resolve_listen(l).unwrap_err().message;
        assert_eq!(
            err("nonsense"),
            "listen tcp: address nonsense: missing port in address"
        );
        assert_eq!(
            err("127.0.0.1:99999"),
            "listen tcp: address 99999: invalid port"
        );
        assert_eq!(err("127.0.0.1:-1"), "listen tcp: address -1: invalid port");
    }
}
