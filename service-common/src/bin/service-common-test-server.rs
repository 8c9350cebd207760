//! A tiny service built on service-common and nothing else, for service-common's own
//! integration tests (`tests/server.rs`): the shared flags, config errors, JSON error
//! answers, metrics and the graceful drain, tested once here instead of through each
//! service. Not shipped: no image or script runs it.

use std::process::ExitCode;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use clap::Parser;
use service_common::{HttpMetrics, ServeArgs, cli, http_metrics, logging, peer, server};

/// The shared serve flags plus one flag of the server's own.
#[derive(Debug, Parser)]
#[command(name = "service-common-test-server", version)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,

    /// How long `GET /slow` takes to answer.
    #[arg(long, env = "TEST_SERVER_DELAY_MS", default_value = "1500", value_name = "MS",
          allow_negative_numbers = true, value_parser = cli::parse_positive_ms)]
    delay_ms: u64,
}

fn main() -> ExitCode {
    let cli: Cli = service_common::parse_or_exit();
    logging::init(cli.serve.log_format);
    run(cli).map_or_else(
        |err| {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        },
        |()| ExitCode::SUCCESS,
    )
}

#[actix_web::main]
async fn run(cli: Cli) -> anyhow::Result<()> {
    let metrics = web::Data::new(HttpMetrics::new().context("cannot set up metrics")?);
    let delay = web::Data::new(Duration::from_millis(cli.delay_ms));
    let routes = move |config: &mut web::ServiceConfig| {
        config
            .app_data(delay.clone())
            .route(
                "/",
                web::get().to(|| async { "hello from the test server" }),
            )
            .route("/health/live", web::get().to(live))
            .route("/metrics", web::get().to(http_metrics::metrics_endpoint))
            .route("/slow", web::get().to(slow))
            .route("/hang", web::get().to(hang))
            .route("/echo", web::post().to(echo));
    };
    server::serve(&cli.serve, metrics, routes, |addr| {
        tracing::info!(%addr, "test server listening");
    })
    .await?;
    tracing::info!("test server stopped");
    Ok(())
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "UP"}))
}

/// Answers after `--delay-ms`: an in-flight request for the drain tests.
async fn slow(delay: web::Data<Duration>) -> &'static str {
    tokio::time::sleep(**delay).await;
    "slow answer"
}

/// Never answers while its client stays: only the drain's timeout ends it.
async fn hang(request: HttpRequest) -> HttpResponse {
    peer::client_gone(&request).await;
    peer::gone_response()
}

/// The body back, read through service-common's JSON settings (limit, 400/413 answers).
async fn echo(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(body.into_inner())
}
