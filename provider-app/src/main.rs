//! provider-app: the service the consumer depends on; the thing chaos experiments break.

mod access;
mod cli;
mod faults;
mod routes;

use actix_web::web;
use anyhow::Context;
use service_common::{HttpMetrics, logging, server};

use crate::access::FaultAccess;
use crate::cli::Cli;
use crate::faults::FaultState;
use crate::routes::Instance;

fn main() {
    // docs/contracts.md: an empty FAULT_API_TOKEN counts as unset.
    let cli: Cli = service_common::cli::parse_or_exit_empty_unset(&["FAULT_API_TOKEN"]);
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
    let access = web::Data::new(FaultAccess::new(cli.fault_token.clone()));
    let fault_api = if access.is_enabled() {
        "token"
    } else {
        "read-only"
    };
    let metrics = web::Data::new(HttpMetrics::new().context("cannot set up metrics")?);

    let routes = move |config: &mut web::ServiceConfig| {
        config
            .app_data(instance.clone())
            .app_data(faults.clone())
            .app_data(access.clone())
            .configure(routes::configure);
    };
    server::serve(&cli.serve, metrics, routes, |addr| {
        tracing::info!(%addr, instance = %cli.instance_name(), faults = %cli.faults(), fault_api, "provider-app listening");
    })
    .await?;
    tracing::info!("provider-app stopped");
    Ok(())
}
