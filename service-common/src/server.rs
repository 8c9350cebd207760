//! The HTTP server both services run, assembled one way: bind first (a taken port is a
//! one-line config error), JSON error answers and per-route metrics around the service's
//! own routes, a graceful drain on SIGTERM/SIGINT, and the address file once listening.

use std::net::SocketAddr;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::{HttpMetrics, ServeArgs, http_errors, http_metrics, listener, shutdown};

/// Serves the routes and app data that `routes` registers until a signal has drained the
/// server. `on_listening` gets the bound address once the socket accepts connections
/// (before the address file appears, so its log line comes first).
pub async fn serve<R>(
    args: &ServeArgs,
    metrics: web::Data<HttpMetrics>,
    routes: R,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()>
where
    R: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let socket = listener::bind(args.socket_addr())?;
    let addr = socket
        .local_addr()
        .context("cannot read the bound address")?;

    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(http_errors::json_config())
            .wrap(from_fn(http_metrics::track))
            .configure(routes.clone())
            .default_service(web::to(http_errors::not_found))
    })
    // Lets a request that waits without bound notice that its client left (`peer`).
    .on_connect(crate::peer::on_connect)
    // Bounds the drain: a hung request, or a call stuck on a hanging provider, is cut
    // after this many seconds.
    .shutdown_timeout(args.shutdown_timeout_secs)
    .disable_signals()
    .listen(socket)
    .with_context(|| format!("cannot serve on {addr}"))?
    .run();

    on_listening(addr);
    if let Some(path) = &args.addr_file {
        listener::write_addr_file(path, addr)?;
    }
    shutdown::run_until_signalled(server)
        .await
        .context("server failed")
}
