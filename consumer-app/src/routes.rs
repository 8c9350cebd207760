//! consumer-app's HTTP routes.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use service_common::HttpMetrics;

use crate::cli::Resilience;
use crate::invoke::Invoker;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(alive))
        .route("/invokeConsumedService", web::get().to(invoke))
        .route("/health/live", web::get().to(up))
        .route("/health/ready", web::get().to(ready))
        .route("/actuator/health", web::get().to(up))
        .route("/metrics", web::get().to(metrics));
}

/// Prometheus metrics, with the circuit state brought up to date first (see
/// `Invoker::circuit_state`).
async fn metrics(invoker: web::Data<Invoker>, metrics: web::Data<HttpMetrics>) -> HttpResponse {
    invoker.circuit_state();
    service_common::http_metrics::metrics_endpoint(metrics).await
}

async fn alive() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("consumer is alive\n")
}

async fn invoke(request: HttpRequest, invoker: web::Data<Invoker>) -> HttpResponse {
    invoker.invoke(&request).await
}

/// Liveness and `/actuator/health`: never depend on the provider, or a provider outage
/// would get the consumer restarted too (a cascading failure of its own).
async fn up() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "UP" }))
}

/// Readiness: always 200 while serving; reports the resilience mode and circuit state.
async fn ready(invoker: web::Data<Invoker>, mode: web::Data<Resilience>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "UP",
        "resilience": mode.as_str(),
        "circuit": invoker.circuit_state(),
    }))
}
