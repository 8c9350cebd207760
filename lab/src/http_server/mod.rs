//! The lab's HTTP servers (`lab dashboard`, `lab demo --dashboard`, `lab traffic
//! --serve`), built one way: actix-web's router and actix-http's HTTP/1 codec, behind an
//! accept loop of our own, on one thread that owns its runtime, so a hostile client can
//! hold no more than a bounded share of the process:
//!
//! - at most [`connection_cap`] connections; above it the quietest connection (no answer
//!   written for [`QUIET`]: idle, half-sent, or not reading) is closed to make room, and
//!   when every connection is busy the newcomer gets a 503 with `Retry-After`;
//! - the request head must arrive within [`HEAD_TIMEOUT`] (408), an idle keep-alive
//!   connection is closed after [`KEEP_ALIVE`], a client that reads nothing for
//!   [`WRITE_STALL`] is dropped;
//! - a URL longer than [`MAX_URL_BYTES`] gets 414, a request head over actix-http's
//!   128 KiB 431; nothing a client sends is echoed back beyond a short quote;
//! - long-lived streams (`/events`) count against [`Subscribers`] (503 above it);
//! - a request whose handler works for long (the dashboard's controls restart services)
//!   would look quiet; such a handler answers as soon as it has read its small body and
//!   works after the answer (`dashboard::controls`), so a legitimate POST is "quiet" only
//!   while its own client is still sending a form of at most 4 KiB. Counting reads as
//!   activity instead would let a client that trickles bytes keep its place for ever;
//! - running out of descriptors pauses accepting for a moment; the listener stays.
//!
//! Routes are the caller's (`routes` gets actix-web's `ServiceConfig`), so a surface
//! adds its own handlers, app data and 404 without touching how the server is built.

mod connections;
mod subscribers;

pub use subscribers::Subscribers;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_http::{HttpServiceBuilder, KeepAlive};
use actix_service::{ServiceFactory, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, web};
use anyhow::{Context, Result, anyhow, bail};
use tokio::sync::oneshot;

use connections::{Connections, Tracked};

/// Connections held at once at most (fewer when the descriptor limit is low).
pub const MAX_CONNECTIONS: usize = 512;
/// Long-lived streams at once at most (fewer when the connection cap is low).
pub const MAX_STREAMS: usize = 256;
/// Time a client has to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Time an idle keep-alive connection is kept.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Time a client may leave the server's answer unread before it is dropped.
pub const WRITE_STALL: Duration = Duration::from_secs(10);
/// A connection that has written nothing for this long may make room for a new one.
pub const QUIET: Duration = Duration::from_secs(1);
/// The longest URL (request target) served.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// What a client refused for lack of room is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The connection cap: [`MAX_CONNECTIONS`], or a quarter of the descriptor limit when
/// that is lower (the rest of the lab needs descriptors too), at least 16.
pub fn connection_cap() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    usize::try_from(soft / 4)
        .unwrap_or(usize::MAX)
        .clamp(16, MAX_CONNECTIONS)
}

/// The stream cap: [`MAX_STREAMS`], at most half the connection cap, so streams never
/// fill the server.
pub fn stream_cap() -> usize {
    (connection_cap() / 2).min(MAX_STREAMS)
}

/// A 503 for a client refused for lack of room: `Retry-After`, a short plain text.
pub fn busy(retry_after_secs: u32, message: &'static str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", retry_after_secs.to_string()))
        .content_type("text/plain; charset=utf-8")
        .body(message)
}

/// An HTTP server on a loopback address, serving until dropped.
pub struct LoopbackServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LoopbackServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LoopbackServer {
    /// Serves what `routes` registers on `addr`, a loopback address (port 0 picks one);
    /// `what` names the server in errors and its thread. `routes` runs on the server's
    /// thread, inside its runtime, so it may spawn local tasks its handlers share.
    pub fn start<R>(what: &'static str, addr: SocketAddr, routes: R) -> Result<LoopbackServer>
    where
        R: FnOnce(&mut web::ServiceConfig) + Send + 'static,
    {
        if !addr.ip().is_loopback() {
            bail!("the {what} serves on a loopback address only, not {addr}");
        }
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .with_context(|| format!("cannot serve the {what} on {addr}"))?;
        let addr = listener
            .local_addr()
            .with_context(|| format!("the {what} has no address"))?;
        let (stop, stopped) = oneshot::channel();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(what.chars().take(15).collect())
            .spawn(move || run(listener, routes, stopped, ready))
            .with_context(|| format!("cannot start the {what}'s thread"))?;
        let mut server = LoopbackServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        };
        match started.recv() {
            Ok(Ok(())) => Ok(server),
            Ok(Err(err)) => Err(err.context(format!("cannot serve the {what} on {addr}"))),
            Err(_) => {
                server.stop.take();
                Err(anyhow!("the {what}'s thread ended before serving"))
            }
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server's thread: its runtime and the local set its connections run on; both end
/// (closing every connection) when the server is dropped.
fn run<R>(
    listener: std::net::TcpListener,
    routes: R,
    stopped: oneshot::Receiver<()>,
    ready: mpsc::Sender<Result<()>>,
) where
    R: FnOnce(&mut web::ServiceConfig) + 'static,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = ready.send(Err(anyhow!(err).context("cannot start a runtime")));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(listener, routes, stopped, ready));
}

async fn serve<R>(
    listener: std::net::TcpListener,
    routes: R,
    stopped: oneshot::Receiver<()>,
    ready: mpsc::Sender<Result<()>>,
) where
    R: FnOnce(&mut web::ServiceConfig) + 'static,
{
    let setup = async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = App::new().wrap(from_fn(limit_url)).configure(routes);
        let factory = HttpServiceBuilder::<Tracked, _>::default()
            .client_request_timeout(HEAD_TIMEOUT)
            .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1(map_config(app, |()| AppConfig::default()));
        let service = factory
            .new_service(())
            .await
            .map_err(|err| anyhow!("cannot build the HTTP service: {err:?}"))?;
        anyhow::Ok((listener, Rc::new(service)))
    };
    let (listener, service) = match setup.await {
        Ok(started) => {
            let _ = ready.send(Ok(()));
            started
        }
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let connections = Connections::new(connection_cap());
    tokio::select! {
        _ = stopped => {}
        () = connections.accept(listener, service) => {}
    }
}

/// 414 for a request target longer than [`MAX_URL_BYTES`] (without quoting it).
async fn limit_url(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let uri = request.uri();
    let length = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if length > MAX_URL_BYTES {
        let response = HttpResponse::UriTooLong()
            .content_type("text/plain; charset=utf-8")
            .body(format!("URL longer than {MAX_URL_BYTES} bytes\n"));
        return Ok(request.into_response(response).map_into_right_body());
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}
