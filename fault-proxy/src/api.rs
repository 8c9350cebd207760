//! The HTTP API: Toxiproxy's v2 routes, status codes and bodies, on actix-web.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::access::Access;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::{MAX_BODY_BYTES, ProxySpec};
use crate::registry::Registry;

/// The version `GET /version` answers: the Toxiproxy release whose API this serves.
pub const TOXIPROXY_VERSION: &str = "2.5.0";

/// What the handlers share.
pub struct AppState {
    pub registry: Registry,
    pub metrics: Arc<Metrics>,
    pub access: Access,
}

type State = web::Data<AppState>;

fn json_ok(status: StatusCode, value: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(value.to_string())
}

/// Toxiproxy writes its error object with Go's `http.Error`: plain-text content type
/// and a trailing newline.
fn error_response(e: &ApiError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(e).unwrap_or_default();
    let mut response = HttpResponse::build(status);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is left unread: the connection cannot carry another
        // request, and `Connection: close` tells the client so.
        response.force_close();
    }
    response
        .content_type("text/plain; charset=utf-8")
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(format!("{body}\n"))
}

fn answer(result: Result<Value, ApiError>, ok: StatusCode) -> HttpResponse {
    match result {
        Ok(v) => json_ok(ok, &v),
        Err(e) => error_response(&e),
    }
}

fn no_content(result: Result<(), ApiError>) -> HttpResponse {
    match result {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => error_response(&e),
    }
}

async fn proxy_index(s: State) -> HttpResponse {
    json_ok(StatusCode::OK, &s.registry.list().await)
}

async fn proxy_create(s: State, pl: web::Payload) -> HttpResponse {
    let body = match read_body(pl).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    answer(s.registry.create(&body).await, StatusCode::CREATED)
}

async fn populate(s: State, pl: web::Payload) -> HttpResponse {
    let body = match read_body(pl).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    let result = match ProxySpec::list_from_body(&body) {
        Ok(specs) => s.registry.populate(specs).await,
        Err(e) => Err(e),
    };
    let proxies = |v: Vec<Value>| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Array(v)
        }
    };
    match result {
        Ok(views) => json_ok(StatusCode::CREATED, &json!({ "proxies": proxies(views) })),
        Err(e) => json_ok(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &json!({ "error": e.message, "status": e.status, "proxies": Value::Null }),
        ),
    }
}

async fn proxy_show(s: State, name: web::Path<String>) -> HttpResponse {
    answer(s.registry.show(&name).await, StatusCode::OK)
}

async fn proxy_update(s: State, name: web::Path<String>, pl: web::Payload) -> HttpResponse {
    let body = match read_body(pl).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    answer(s.registry.update(&name, &body).await, StatusCode::OK)
}

async fn proxy_delete(s: State, name: web::Path<String>) -> HttpResponse {
    no_content(s.registry.delete(&name).await)
}

async fn toxic_index(s: State, name: web::Path<String>) -> HttpResponse {
    answer(s.registry.toxics(&name).await, StatusCode::OK)
}

/// Toxiproxy 2.5 answers a created toxic with 200, not 201.
async fn toxic_create(s: State, name: web::Path<String>, pl: web::Payload) -> HttpResponse {
    let body = match read_body(pl).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    answer(s.registry.add_toxic(&name, &body).await, StatusCode::OK)
}

async fn toxic_show(s: State, path: web::Path<(String, String)>) -> HttpResponse {
    answer(s.registry.toxic(&path.0, &path.1).await, StatusCode::OK)
}

async fn toxic_update(
    s: State,
    path: web::Path<(String, String)>,
    pl: web::Payload,
) -> HttpResponse {
    let body = match read_body(pl).await {
        Ok(b) => b,
        Err(e) => return error_response(&e),
    };
    answer(
        s.registry.update_toxic(&path.0, &path.1, &body).await,
        StatusCode::OK,
    )
}

async fn toxic_delete(s: State, path: web::Path<(String, String)>) -> HttpResponse {
    no_content(s.registry.remove_toxic(&path.0, &path.1).await)
}

async fn reset(s: State) -> HttpResponse {
    no_content(s.registry.reset().await)
}

async fn version() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain;charset=utf-8")
        .body(TOXIPROXY_VERSION)
}

async fn metrics(s: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(s.metrics.render())
}

/// gorilla/mux's answer to an unknown path.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("404 page not found\n")
}

/// gorilla/mux's answer to a known path with another method: 405, empty.
async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().finish()
}

/// Whether `method path` is one of Toxiproxy's routes. Its middleware (request id,
/// browser check) runs only on those: the router's own 404 and 405 come without them.
fn routed(method: &Method, path: &str) -> bool {
    let parts: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let is = |m: Method| *method == m;
    let name = |s: &str| !s.is_empty();
    match parts.as_slice() {
        ["reset"] | ["populate"] => is(Method::POST),
        ["proxies"] => is(Method::GET) || is(Method::POST),
        ["proxies", p] if name(p) => is(Method::GET) || is(Method::POST) || is(Method::DELETE),
        ["proxies", p, "toxics"] if name(p) => is(Method::GET) || is(Method::POST),
        ["proxies", p, "toxics", t] if name(p) && name(t) => {
            is(Method::GET) || is(Method::POST) || is(Method::DELETE)
        }
        ["version"] => is(Method::GET),
        ["metrics"] => true,
        _ => false,
    }
}

/// A request id in the shape of Toxiproxy's (an xid: 20 characters of base32hex), from
/// the time, this process and a counter: unique per request.
fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static PROCESS: OnceLock<[u8; 5]> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let process = PROCESS.get_or_init(rand::random);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut raw = [0u8; 12];
    raw[..4].copy_from_slice(&secs.to_be_bytes());
    raw[4..9].copy_from_slice(process);
    raw[9..].copy_from_slice(&n.to_be_bytes()[1..]);
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let bits = raw.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b)) << 4;
    (0..20)
        .map(|i| ALPHABET[((bits >> (95 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// On Toxiproxy's routes: a request id, the browser refusal (a web page must not drive
/// the proxy from a user's machine; every browser's User-Agent starts `Mozilla/`), and
/// the token for changes, if one is set.
async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<impl MessageBody + use<B>>, actix_web::Error> {
    if !routed(req.method(), req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let id = request_id();
    let with_id = |mut response: ServiceResponse<_>| {
        if let Ok(value) = header::HeaderValue::from_str(&id) {
            response.headers_mut().insert(
                header::HeaderName::from_static("x-toxiproxy-request-id"),
                value,
            );
        }
        response
    };
    let browser = req
        .headers()
        .get(header::USER_AGENT)
        .is_some_and(|ua| ua.as_bytes().starts_with(b"Mozilla/"));
    if browser {
        let response = HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body("User agent not allowed\n");
        return Ok(with_id(req.into_response(response).map_into_right_body()));
    }
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reads {
        let state = req.app_data::<State>().cloned();
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if let Some(state) = state
            && let Err(refusal) = state.access.check(authorization)
        {
            tracing::warn!(method = %req.method(), path = %req.path(), peer = ?req.peer_addr(), "API change refused: no valid token");
            return Ok(with_id(
                req.into_response(refusal.response()).map_into_right_body(),
            ));
        }
    }
    next.call(req)
        .await
        .map(|r| with_id(r.map_into_left_body()))
}

/// The request body, at most [`MAX_BODY_BYTES`] (413 beyond).
async fn read_body(pl: web::Payload) -> Result<web::Bytes, ApiError> {
    match pl.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(ApiError::bad_body(e)),
        Err(_) => Err(ApiError::new(
            format!("bad request body: larger than {MAX_BODY_BYTES} bytes"),
            413,
        )),
    }
}

/// The routes, for `App::configure`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let r405 = || web::to(method_not_allowed);
    cfg.service(
        web::scope("")
            .wrap(from_fn(guard))
            .service(web::resource("/reset").post(reset).default_service(r405()))
            .service(
                web::resource("/proxies")
                    .get(proxy_index)
                    .post(proxy_create)
                    .default_service(r405()),
            )
            .service(
                web::resource("/populate")
                    .post(populate)
                    .default_service(r405()),
            )
            .service(
                web::resource("/proxies/{proxy}")
                    .get(proxy_show)
                    .post(proxy_update)
                    .delete(proxy_delete)
                    .default_service(r405()),
            )
            .service(
                web::resource("/proxies/{proxy}/toxics")
                    .get(toxic_index)
                    .post(toxic_create)
                    .default_service(r405()),
            )
            .service(
                web::resource("/proxies/{proxy}/toxics/{toxic}")
                    .get(toxic_show)
                    .post(toxic_update)
                    .delete(toxic_delete)
                    .default_service(r405()),
            )
            .service(
                web::resource("/version")
                    .get(version)
                    .default_service(r405()),
            )
            .service(web::resource("/metrics").to(metrics))
            .default_service(web::to(not_found)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_toxiproxys_routes_are_routed() {
        assert!(routed(&Method::GET, "/proxies"));
        assert!(routed(&Method::DELETE, "/proxies/a/toxics/b"));
        assert!(!routed(&Method::PUT, "/proxies"));
        assert!(!routed(&Method::GET, "/nothing"));
        assert!(!routed(&Method::GET, "/proxies/a/b"));
        assert!(!routed(&Method::DELETE, "/proxies/a/toxics"));
    }

    #[test]
    fn request_ids_look_like_xids_and_differ() {
        let (a, b) = (request_id(), request_id());
        assert_eq!(a.len(), 20);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'v').contains(&c))
        );
        assert_ne!(a, b);
    }
}
