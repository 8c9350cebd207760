//! consumer-app: calls the provider on `/invokeConsumedService`, either naively (the
//! cascading failure) or behind timeouts, a circuit breaker, a bulkhead and a fallback.

mod circuit;
mod cli;
mod invoke;
mod metrics;
mod provider_client;
mod routes;

use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use service_common::{HttpMetrics, http_errors, http_metrics, listener, logging, shutdown};

use crate::cli::{Cli, Resilience};
use crate::invoke::Invoker;
use crate::metrics::ConsumerMetrics;
use crate::provider_client::ProviderClient;

fn main() {
    let cli: Cli = service_common::parse_or_exit();
    logging::init(cli.serve.log_format);
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

#[actix_web::main]
async fn run(cli: Cli) -> anyhow::Result<()> {
    let http_metrics = HttpMetrics::new().context("cannot set up metrics")?;
    let metrics =
        ConsumerMetrics::register(http_metrics.registry()).context("cannot set up metrics")?;
    let url = cli.provider_url.clone();
    let invoker = match cli.resilience {
        Resilience::Off => Invoker::naive(
            ProviderClient::naive(url).context("cannot build the HTTP client")?,
            metrics,
        ),
        Resilience::On => {
            let client = ProviderClient::bounded(
                url,
                Duration::from_millis(cli.tuning.connect_timeout_ms),
                Duration::from_millis(cli.tuning.call_timeout_ms),
            )
            .context("cannot build the HTTP client")?;
            Invoker::resilient(client, &cli.tuning, metrics)
        }
    };
    let invoker = web::Data::new(invoker);
    let mode = web::Data::new(cli.resilience);
    let http_metrics = web::Data::new(http_metrics);

    let listener = listener::bind(cli.serve.socket_addr())?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;

    let server = HttpServer::new(move || {
        App::new()
            .app_data(invoker.clone())
            .app_data(mode.clone())
            .app_data(http_metrics.clone())
            .app_data(http_errors::json_config())
            .wrap(from_fn(http_metrics::track))
            .configure(routes::configure)
            .default_service(web::to(http_errors::not_found))
    })
    // Bounds graceful shutdown: calls stuck on a hanging provider are cut after this.
    .shutdown_timeout(cli.serve.shutdown_timeout_secs)
    .disable_signals()
    .listen(listener)
    .with_context(|| format!("cannot serve on {addr}"))?
    .run();

    if let Some(path) = &cli.serve.addr_file {
        listener::write_addr_file(path, addr)?;
    }
    tracing::info!(
        %addr,
        provider_url = %cli.provider_url,
        resilience = cli.resilience.as_str(),
        tuning = ?cli.tuning,
        "consumer-app listening"
    );
    shutdown::run_until_signalled(server)
        .await
        .context("server failed")?;
    tracing::info!("consumer-app stopped");
    Ok(())
}
