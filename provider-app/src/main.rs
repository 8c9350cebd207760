//! provider-app: the service the consumer depends on; the thing chaos experiments break.

mod cli;
mod faults;
mod routes;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use service_common::{HttpMetrics, http_errors, http_metrics, listener, logging, shutdown};

use crate::cli::Cli;
use crate::faults::FaultState;
use crate::routes::Instance;

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
    let instance = web::Data::new(Instance {
        name: cli.instance_name(),
    });
    let faults = web::Data::new(FaultState::new(cli.faults()));
    let metrics = web::Data::new(HttpMetrics::new().context("cannot set up metrics")?);

    let listener = listener::bind(cli.serve.socket_addr())?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;

    let server = HttpServer::new(move || {
        App::new()
            .app_data(instance.clone())
            .app_data(faults.clone())
            .app_data(metrics.clone())
            .app_data(http_errors::json_config())
            .wrap(from_fn(http_metrics::track))
            .configure(routes::configure)
            .default_service(web::to(http_errors::not_found))
    })
    // Bounds graceful shutdown: hung requests are cut after this.
    .shutdown_timeout(cli.serve.shutdown_timeout_secs)
    .disable_signals()
    .listen(listener)
    .with_context(|| format!("cannot serve on {addr}"))?
    .run();

    if let Some(path) = &cli.serve.addr_file {
        listener::write_addr_file(path, addr)?;
    }
    tracing::info!(%addr, instance = %cli.instance_name(), faults = %cli.faults(), "provider-app listening");
    shutdown::run_until_signalled(server)
        .await
        .context("server failed")?;
    tracing::info!("provider-app stopped");
    Ok(())
}
