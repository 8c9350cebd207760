//! consumer-app: calls the provider on `/invokeConsumedService`, either naively (the
//! cascading failure) or behind timeouts, a circuit breaker, a bulkhead, a fallback and opt-in retries.

mod circuit;
mod cli;
mod invoke;
mod metrics;
mod provider_client;
mod retry;
mod routes;

use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use service_common::{HttpMetrics, logging, server};

use crate::cli::{Cli, Resilience};
use crate::invoke::Invoker;
use crate::metrics::ConsumerMetrics;
use crate::provider_client::ProviderClient;

fn main() {
    let cli: Cli = service_common::parse_or_exit();
    if let Err(err) = cli.tuning.retry.check() {
        eprintln!("error: {err}");
        std::process::exit(2);
    }
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
            ProviderClient::naive(url, cli.max_body_bytes)
                .context("cannot build the HTTP client")?,
            metrics,
        ),
        Resilience::On => {
            let client = ProviderClient::bounded(
                url,
                Duration::from_millis(cli.tuning.connect_timeout_ms),
                Duration::from_millis(cli.tuning.call_timeout_ms),
                cli.max_body_bytes,
            )
            .context("cannot build the HTTP client")?;
            Invoker::resilient(client, &cli.tuning, metrics)
        }
    };
    let invoker = web::Data::new(invoker);
    let mode = web::Data::new(cli.resilience);

    let routes = move |config: &mut web::ServiceConfig| {
        config
            .app_data(invoker.clone())
            .app_data(mode.clone())
            .configure(routes::configure);
    };
    server::serve(&cli.serve, web::Data::new(http_metrics), routes, |addr| {
        tracing::info!(
            %addr,
            provider_url = %cli.provider_url,
            resilience = cli.resilience.as_str(),
            tuning = ?cli.tuning,
            "consumer-app listening"
        );
    })
    .await?;
    tracing::info!("consumer-app stopped");
    Ok(())
}
