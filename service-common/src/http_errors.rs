//! JSON answers for requests the services refuse: unknown routes (404), malformed (400)
//! and oversized (413) bodies. Nothing a client sends may panic a handler.

use actix_web::error::JsonPayloadError;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

/// Largest JSON body any route accepts; the services only take tiny fault settings.
pub const JSON_LIMIT_BYTES: usize = 16 * 1024;

/// `default_service` for every app: 404 with a JSON body naming the path.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(json!({
        "error": "not found",
        "path": req.path(),
    }))
}

/// JSON extractor settings: size limit, any content type, errors as JSON with the right
/// status (413 oversized, 400 malformed).
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .content_type_required(false)
        .content_type(|_| true)
        .error_handler(|err, _req| {
            let (status, message) = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => (
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body larger than {JSON_LIMIT_BYTES} bytes"),
                ),
                other => (actix_web::http::StatusCode::BAD_REQUEST, other.to_string()),
            };
            let response = HttpResponse::build(status).json(json!({ "error": message }));
            actix_web::error::InternalError::from_response(err, response).into()
        })
}
