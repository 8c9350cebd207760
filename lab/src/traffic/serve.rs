//! The users' impact over HTTP on 127.0.0.1, for experiments: what the traffic of the
//! last N seconds got, and a yes/no an http probe's status tolerance can judge.
//!
//! - `GET /users/impact?seconds=N` -> 200, the [`Summary`] of the last N s as JSON.
//! - `GET /users/ok?seconds=N&max_error_rate=P` -> 200 when requests finished in that
//!   window and at most P of them failed or timed out, else 503; the same JSON plus
//!   `verdict` (and `reason` for a 503).
//!
//! N: 1 to 3600, default 10; P: 0 to 1, default 0.05. Anything else: 400 naming the
//! parameter (quoting at most [`QUOTE_CHARS`] characters of it). The server is
//! `http_server`'s: its caps, limits and timeouts hold here too.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Result;
use serde_json::{Value, json};

use super::series::{Series, Summary};
use crate::http_server::LoopbackServer;

const DEFAULT_WINDOW: u64 = 10;
const MAX_WINDOW: u64 = 3600;
const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;
/// A bad parameter's value is quoted up to this many characters.
const QUOTE_CHARS: usize = 32;

/// The endpoint, serving until dropped.
pub struct ImpactServer {
    http: LoopbackServer,
}

impl ImpactServer {
    /// Serves `series` on `addr`, which must be a loopback address (port 0 picks one).
    pub fn start(addr: SocketAddr, series: Series) -> Result<ImpactServer> {
        let http = LoopbackServer::start("impact endpoint", addr, move |config| {
            let get = |path: &str| {
                web::resource(path)
                    .route(web::get().to(handle))
                    .default_service(web::to(|| async {
                        respond(405, &json!({"error": "only GET is served"}))
                    }))
            };
            config
                .app_data(web::Data::new(series))
                .service(get("/users/impact"))
                .service(get("/users/ok"))
                .default_service(web::to(|| async {
                    respond(
                        404,
                        &json!({"error": "no such endpoint; try /users/impact or /users/ok"}),
                    )
                }));
        })?;
        Ok(ImpactServer { http })
    }

    pub fn addr(&self) -> SocketAddr {
        self.http.addr()
    }
}

async fn handle(request: HttpRequest, series: web::Data<Series>) -> HttpResponse {
    let (status, body) = answer(request.path(), request.query_string(), &series);
    respond(status, &body)
}

fn respond(status: u16, body: &Value) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.to_string() + "\n")
}

/// At most [`QUOTE_CHARS`] characters of a client's text, marked when cut.
fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let quoted: String = chars.by_ref().take(QUOTE_CHARS).collect();
    if chars.next().is_some() {
        format!("{quoted}...")
    } else {
        quoted
    }
}

/// The query's `name=value` pairs (values here are plain numbers: no decoding needed).
fn query(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

fn param<'a>(pairs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
}

fn window(pairs: &[(&str, &str)]) -> Result<Duration, String> {
    let Some(text) = param(pairs, "seconds") else {
        return Ok(Duration::from_secs(DEFAULT_WINDOW));
    };
    match text.parse::<u64>() {
        Ok(n) if (1..=MAX_WINDOW).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "seconds: `{}` is not a whole number of seconds from 1 to {MAX_WINDOW}",
            quote(text)
        )),
    }
}

fn max_error_rate(pairs: &[(&str, &str)]) -> Result<f64, String> {
    let Some(text) = param(pairs, "max_error_rate") else {
        return Ok(DEFAULT_MAX_ERROR_RATE);
    };
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "max_error_rate: `{}` is not a fraction from 0 to 1",
            quote(text)
        )),
    }
}

/// Whether the users were fine in `summary`, and if not why.
fn judge(summary: &Summary, max: f64) -> Result<(), String> {
    match summary.error_rate {
        None => Err(format!(
            "no user request finished in the last {:.0} s ({} in flight)",
            summary.window_s, summary.in_flight
        )),
        Some(rate) if rate > max => Err(format!(
            "{} of {} user requests failed or timed out ({:.1} %, at most {:.1} % allowed)",
            summary.failed + summary.timed_out,
            summary.finished(),
            rate * 100.0,
            max * 100.0
        )),
        Some(_) => Ok(()),
    }
}

/// The status and JSON body for a GET of `path?query`.
fn answer(path: &str, query_string: &str, series: &Series) -> (u16, Value) {
    let pairs = query(query_string);
    let bad = |message: String| (400, json!({ "error": message }));
    match path {
        "/users/impact" => match window(&pairs) {
            Ok(window) => (200, json!(series.last(window))),
            Err(message) => bad(message),
        },
        "/users/ok" => {
            let (window, max) = match (window(&pairs), max_error_rate(&pairs)) {
                (Ok(w), Ok(m)) => (w, m),
                (Err(message), _) | (_, Err(message)) => return bad(message),
            };
            let summary = series.last(window);
            let mut body = json!(summary);
            body["max_error_rate"] = json!(max);
            match judge(&summary, max) {
                Ok(()) => {
                    body["verdict"] = json!("ok");
                    (200, body)
                }
                Err(reason) => {
                    body["verdict"] = json!("users affected");
                    body["reason"] = json!(reason);
                    (503, body)
                }
            }
        }
        _ => (
            404,
            json!({"error": "no such endpoint; try /users/impact or /users/ok"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{FailureCause, Outcome};

    fn series_with(ok: u64, failed: u64) -> Series {
        let series = Series::new(Duration::from_secs(1));
        for i in 0..ok + failed {
            let outcome = if i < ok {
                Outcome::Ok
            } else {
                Outcome::Failed {
                    cause: FailureCause::Status(500),
                }
            };
            series.record_sent(Duration::ZERO, Duration::ZERO);
            series.record(Duration::ZERO, &outcome, Duration::from_millis(3));
        }
        series
    }

    #[test]
    fn impact_counts_the_window() {
        let (status, body) = answer("/users/impact", "seconds=5", &series_with(9, 1));
        assert_eq!(status, 200);
        assert_eq!(body["sent"], 10);
        assert_eq!(body["failed"], 1);
        assert_eq!(body["error_rate"], 0.1);
    }

    #[test]
    fn ok_answers_200_within_the_error_rate_and_503_beyond_it() {
        let series = series_with(9, 1);
        let (status, body) = answer("/users/ok", "seconds=5&max_error_rate=0.1", &series);
        assert_eq!((status, &body["verdict"]), (200, &json!("ok")));
        let (status, body) = answer("/users/ok", "seconds=5&max_error_rate=0.05", &series);
        assert_eq!(status, 503);
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("1 of 10 user requests failed"),
            "{body}"
        );
        let (status, body) = answer("/users/ok", "", &Series::new(Duration::from_secs(1)));
        assert_eq!(status, 503);
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .contains("no user request finished")
        );
    }

    #[test]
    fn bad_parameters_and_paths_are_refused_naming_them() {
        let series = series_with(1, 0);
        for (url, needle) in [
            ("/users/impact?seconds=0", "seconds"),
            ("/users/impact?seconds=3601", "seconds"),
            ("/users/ok?max_error_rate=2", "max_error_rate"),
            ("/users/ok?max_error_rate=x", "max_error_rate"),
        ] {
            let (path, query) = url.split_once('?').unwrap();
            let (status, body) = answer(path, query, &series);
            assert_eq!(status, 400, "{url}");
            assert!(
                body["error"].as_str().unwrap().contains(needle),
                "{url}: {body}"
            );
        }
        assert_eq!(answer("/other", "", &series).0, 404);
        let long = "9".repeat(5000);
        let (status, body) = answer("/users/ok", &format!("seconds={long}"), &series);
        let error = body["error"].as_str().unwrap();
        assert_eq!(status, 400);
        assert!(error.len() < 120, "the value is quoted whole: {error}");
    }
}
