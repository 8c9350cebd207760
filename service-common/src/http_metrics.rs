//! Per-route HTTP metrics (request count by route and status, latency histogram) and
//! the `/metrics` endpoint in Prometheus text format.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Route label for requests that matched no route; keeps label cardinality bounded
/// whatever paths clients send.
const UNMATCHED: &str = "unmatched";

/// The registry a service exposes on `/metrics`, with the HTTP metrics already in it.
#[derive(Clone)]
pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl HttpMetrics {
    /// A fresh registry with `http_requests_total` and `http_request_duration_seconds`.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests, by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            requests,
            duration,
        })
    }

    /// The registry, for a service to add its own metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn observe(&self, route: &str, status: StatusCode, seconds: f64) {
        self.requests
            .with_label_values(&[route, status.as_str()])
            .inc();
        self.duration.with_label_values(&[route]).observe(seconds);
    }

    /// The whole registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(%err, "cannot encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Middleware (use with `actix_web::middleware::from_fn`) that records every answered
/// request. Needs `web::Data<HttpMetrics>` in the app.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let started = Instant::now();
    let result = next.call(req).await;
    if let Some(metrics) = metrics {
        let seconds = started.elapsed().as_secs_f64();
        match &result {
            Ok(res) => {
                let route = res.request().match_pattern();
                let route = route.as_deref().unwrap_or(UNMATCHED);
                metrics.observe(route, res.status(), seconds);
            }
            Err(err) => {
                metrics.observe(UNMATCHED, err.as_response_error().status_code(), seconds);
            }
        }
    }
    result
}

/// `GET /metrics`.
pub async fn metrics_endpoint(metrics: web::Data<HttpMetrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_appear_in_the_text_format() {
        let metrics = HttpMetrics::new().unwrap();
        metrics.observe("/", StatusCode::OK, 0.002);
        metrics.observe("/", StatusCode::INTERNAL_SERVER_ERROR, 0.003);
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{route="/",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{route="/",status="500"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_count{route="/"} 2"#),
            "{text}"
        );
    }
}
