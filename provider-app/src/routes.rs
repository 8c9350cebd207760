//! provider-app's HTTP routes.

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::access;
use crate::faults::{FaultState, Faults, Verdict};

/// Who this instance is, for the greeting.
pub struct Instance {
    pub name: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(greeting))
        .route("/health/live", web::get().to(health))
        .route("/health/ready", web::get().to(health))
        .route("/actuator/health", web::get().to(health))
        .route(
            "/metrics",
            web::get().to(service_common::http_metrics::metrics_endpoint),
        )
        .service(
            web::resource("/faults")
                .wrap(from_fn(access::guard))
                .route(web::get().to(get_faults))
                .route(web::put().to(put_faults))
                .route(web::delete().to(delete_faults)),
        );
}

fn injected_error() -> HttpResponse {
    HttpResponse::InternalServerError().json(json!({ "error": "injected fault" }))
}

/// `GET /`: the greeting, after any injected fault.
async fn greeting(
    request: HttpRequest,
    instance: web::Data<Instance>,
    faults: web::Data<FaultState>,
) -> HttpResponse {
    match faults.apply(false, &request).await {
        Verdict::Fail => injected_error(),
        Verdict::ClientGone => service_common::peer::gone_response(),
        Verdict::Proceed => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(format!("Greetings from provider {}!\n", instance.name)),
    }
}

/// The three health endpoints; faults reach them only with `affect_health`.
async fn health(request: HttpRequest, faults: web::Data<FaultState>) -> HttpResponse {
    match faults.apply(true, &request).await {
        Verdict::Fail => injected_error(),
        Verdict::ClientGone => service_common::peer::gone_response(),
        Verdict::Proceed => HttpResponse::Ok().json(json!({ "status": "UP" })),
    }
}

async fn get_faults(faults: web::Data<FaultState>) -> HttpResponse {
    HttpResponse::Ok().json(faults.get())
}

/// `PUT /faults`: replaces the settings; omitted fields take their default. The body must
/// be a JSON object sent as `application/json` (serde would take an array for the
/// struct's fields in order, and any content type was accepted).
async fn put_faults(
    request: HttpRequest,
    faults: web::Data<FaultState>,
    body: web::Json<serde_json::Map<String, serde_json::Value>>,
) -> HttpResponse {
    let is_json = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return HttpResponse::UnsupportedMediaType()
            .json(json!({ "error": "the body must be sent as Content-Type: application/json" }));
    }
    let requested = match Faults::from_json(body.into_inner()) {
        Ok(requested) => requested,
        Err(err) => return HttpResponse::BadRequest().json(json!({ "error": err.to_string() })),
    };
    tracing::info!(faults = %requested, "fault settings changed");
    faults.set(requested.clone());
    HttpResponse::Ok().json(requested)
}

async fn delete_faults(faults: web::Data<FaultState>) -> HttpResponse {
    tracing::info!("fault settings reset");
    faults.set(Faults::default());
    HttpResponse::Ok().json(Faults::default())
}
