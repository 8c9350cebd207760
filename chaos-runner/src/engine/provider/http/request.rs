//! Sending an `http` provider's request: the client from the run's cache, retries of
//! failed connections, the bound on the whole exchange, the response read (capped).

use super::spec::{HttpSpec, Timeout};
use crate::engine::provider::{Output, ProviderContext, ProviderError};
use crate::python_value::py_str;
use crate::run_io::{ClientKey, RunIo};
use reqwest::{Client, RequestBuilder};
use serde_json::{Map, Value};
use std::time::Duration;

/// What reqwest's blocking client waits for a response (and again for its body) when
/// no timeout is given; kept so runs behave as they did with that client.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

fn cannot_create(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Failed(format!("cannot create an HTTP client: {e}"))
}

/// How long one attempt (connect, headers, body) may take in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// With a read timeout: connect timeout + read timeout (a missing connect timeout
    /// counts as the read timeout), so a server trickling its response, which no
    /// per-read timeout ends, cannot hold the activity for longer. A response that
    /// comes whole within the read timeout of the connection always fits.
    Exchange { connect_ms: u64, read_ms: u64 },
    /// Without a read timeout: the blocking client's default, 30 s for the response
    /// and again for its body.
    Default,
}

impl Bound {
    fn of(timeout: Timeout) -> Bound {
        match timeout.read_ms {
            Some(read_ms) => Bound::Exchange {
                connect_ms: timeout.connect_ms.unwrap_or(read_ms),
                read_ms,
            },
            None => Bound::Default,
        }
    }
}

/// Milliseconds as seconds for messages: `1.2 s`, `2 s`.
fn seconds(ms: u64) -> String {
    format!("{} s", ms as f64 / 1000.0)
}

/// Runs `request` on the run's runtime with the client for `key`.
fn with_client<T>(
    io: &RunIo,
    key: ClientKey,
    request: impl AsyncFnOnce(Client) -> T,
) -> Result<T, ProviderError> {
    io.runtime
        .block_on(|| async {
            // Built inside the runtime's context, as reqwest's connector expects.
            let client = io
                .http
                .get(key)
                .map_err(|e| ProviderError::Failed(e.to_string()))?;
            Ok(request(client).await)
        })
        .map_err(cannot_create)?
}

/// Sends the request and returns the output `{status, headers, body}`.
pub fn run(
    spec: &HttpSpec,
    has_tolerance: bool,
    ctx: &ProviderContext,
) -> Result<Output, ProviderError> {
    let HttpSpec {
        url,
        method,
        headers: header_map,
        timeout,
        arguments,
        verify_tls,
        max_retries,
        expected_status,
    } = spec;
    let (max_retries, url) = (*max_retries, url.clone());
    let key = ClientKey {
        verify_tls: *verify_tls,
        connect_ms: timeout.connect_ms,
        read_ms: timeout.read_ms,
    };
    let parsed_method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| ProviderError::Failed(format!("invalid HTTP method '{method}'")))?;

    // A string of GET parameters is appended to the URL as it is.
    let request_url = match (arguments, method.as_str()) {
        (Some(Value::String(raw)), "GET") if !raw.is_empty() => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}{raw}")
        }
        _ => url.clone(),
    };
    let build = |client: &Client| -> RequestBuilder {
        let mut req = client.request(parsed_method.clone(), &request_url);
        for (k, v) in header_map {
            req = req.header(k.as_str(), py_str(v));
        }
        let wants_json =
            header_map.get("Content-Type").and_then(Value::as_str) == Some("application/json");
        match (arguments, method.as_str()) {
            (None | Some(Value::Null), _) | (Some(Value::String(_)), "GET") => req,
            (Some(args), "GET") => req.query(&pairs(args)),
            // Byte for byte what requests sends (json.dumps: ", " and ": ", ASCII only).
            (Some(args), _) if wants_json => req.body(crate::python_value::py_json_dumps(args)),
            (Some(Value::String(raw)), _) => req.body(raw.clone()),
            (Some(args), _) => req.form(&pairs(args)),
        }
    };

    let display_url = url;
    let bound = Bound::of(*timeout);
    let outcome = with_client(ctx.io, key, async |client| {
        ctx.cancel
            .until_cancelled(send_with_retries(|| build(&client), max_retries, bound))
            .await
    })?;
    let response = match outcome {
        None => return Err(ProviderError::Interrupted),
        Some(r) => r,
    };
    let (status, headers, body) = response.map_err(|e| {
        let e = match e {
            SendError::Http(e) if !e.is_timeout() => e,
            SendError::StillArriving {
                connect_ms,
                read_ms,
            } => {
                return ProviderError::Failed(format!(
                    "activity took too long to complete: the response from {display_url} was still arriving after {}, the bound on the whole exchange (connect timeout {} + read timeout {})",
                    seconds(connect_ms + read_ms),
                    seconds(connect_ms),
                    seconds(read_ms),
                ));
            }
            SendError::TimedOut | SendError::Http(_) => {
                return ProviderError::Failed("activity took too long to complete".into());
            }
        };
        if e.is_connect() {
            ProviderError::Failed(format!(
                "failed to connect to {display_url}: {}",
                error_chain(&e)
            ))
        } else {
            ProviderError::Failed(format!(
                "request to {display_url} failed: {}",
                error_chain(&e)
            ))
        }
    })?;
    if let Some(expected) = expected_status
        && !expected.accepts(status)
    {
        return Err(ProviderError::Failed(format!(
            "HTTP status {status} is not the expected {}",
            py_str(&expected.0)
        )));
    }
    if !has_tolerance && status > 399 {
        tracing::warn!(
            "This HTTP call returned a response with a HTTP status code above 400. This may indicate some error and not what you expected. Please have a look at the logs."
        );
    }
    Ok(Output::Http {
        status,
        headers,
        body,
    })
}

type Response = (u16, Map<String, Value>, Value);

/// Why no response was read.
enum SendError {
    /// No response (or no complete body) within the default wait.
    TimedOut,
    /// The exchange's bound passed while the response was still arriving: bytes kept
    /// coming, so no read timeout fired.
    StillArriving {
        connect_ms: u64,
        read_ms: u64,
    },
    Http(reqwest::Error),
}

/// Sends the request, retrying connection failures `max_retries` times like
/// requests' `HTTPAdapter(max_retries=N)`. Each attempt is bounded by `bound`: with a
/// read timeout the whole attempt, connect to the body's last byte, within connect +
/// read timeout, besides reqwest's read timeout (the response's headers within it of
/// the request's start, then each read of the body within it of the previous one);
/// without one, 30 s for the response and again for its body, as reqwest's blocking
/// client did.
async fn send_with_retries(
    build: impl Fn() -> RequestBuilder,
    max_retries: u64,
    bound: Bound,
) -> Result<Response, SendError> {
    let mut attempt = 0;
    loop {
        let result = match bound {
            Bound::Exchange {
                connect_ms,
                read_ms,
            } => {
                let exchange = async { read_response(build().send().await?).await };
                let limit = Duration::from_millis(connect_ms + read_ms);
                match tokio::time::timeout(limit, exchange).await {
                    Err(_) => Err(SendError::StillArriving {
                        connect_ms,
                        read_ms,
                    }),
                    Ok(r) => Ok(r),
                }
            }
            Bound::Default => match tokio::time::timeout(DEFAULT_WAIT, build().send()).await {
                Err(_) => Err(SendError::TimedOut),
                Ok(Err(e)) => Ok(Err(e)),
                Ok(Ok(r)) => match tokio::time::timeout(DEFAULT_WAIT, read_response(r)).await {
                    Err(_) => Err(SendError::TimedOut),
                    Ok(r) => Ok(r),
                },
            },
        };
        // Outer: the bound; inner: the response, or the error of sending the request
        // (only a failed connection is retried) or of reading its body.
        match result {
            Err(e) => return Err(e),
            Ok(Err(e)) if e.is_connect() && attempt < max_retries => attempt += 1,
            Ok(r) => return r.map_err(SendError::Http),
        }
    }
}

async fn read_response(r: reqwest::Response) -> Result<Response, reqwest::Error> {
    let status = r.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in r.headers() {
        let key = title_case(name.as_str());
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        // Repeated headers are joined like requests' CaseInsensitiveDict does.
        let joined = match headers.get(&key).and_then(Value::as_str) {
            Some(prev) => format!("{prev}, {v}"),
            None => v,
        };
        headers.insert(key, Value::String(joined));
    }
    let is_json = headers.get("Content-Type").and_then(Value::as_str) == Some("application/json");
    // At most what the journal keeps: the rest is not read at all.
    let mut kept = crate::engine::provider::capped_output::CappedOutput::default();
    let mut r = r;
    while let Some(chunk) = r.chunk().await? {
        kept.push(&chunk);
        if kept.is_truncated() {
            break;
        }
    }
    let truncated = kept.is_truncated();
    let text = kept.into_text();
    let body = if is_json && !truncated {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Ok((status, headers, body))
}

/// HTTP/1 header names arrive lowercased; servers send them Title-Cased, which is what
/// the reference records.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Query or form pairs from a mapping; lists repeat the key, nulls are dropped.
fn pairs(args: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(m) = args {
        for (k, v) in m {
            match v {
                Value::Null => {}
                Value::Array(items) => out.extend(
                    items
                        .iter()
                        .filter(|i| !i.is_null())
                        .map(|i| (k.clone(), py_str(i))),
                ),
                other => out.push((k.clone(), py_str(other))),
            }
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::Registry;
    use crate::interrupt::Cancel;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::sync::Arc;

    /// A self-signed certificate for 127.0.0.1 (valid until 2126) and its key; only
    /// the `verify_tls: false` client may accept it.
    const SELF_SIGNED_CERT: &str = concat!(
        "-----BEGIN CERTIFICATE-----\n",
        "MIIBmjCCAUGgAwIBAgIUErL9e+vtPwzRrA00Ox7ReBteTO8wCgYIKoZIzj0EAwIw\n",
        "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjE3MjUwOVoYDzIxMjYxMTAy\n",
        "MTcyNTA5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n",
        "PQMBBwNCAAQ7UbzUaC4NyKh1JcbDcN5lK5E7Tc1JuO4JHqeZnB8PdBTtCnAV48h1\n",
        "rbJxvC9Wci4c9UZzkbJ4+RIFh/F8GpFAo28wbTAdBgNVHQ4EFgQU8sMSn5jd4y3I\n",
        "l7G8LYiOho5s2HYwHwYDVR0jBBgwFoAU8sMSn5jd4y3Il7G8LYiOho5s2HYwDwYD\n",
        "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI\n",
        "zj0EAwIDRwAwRAIgA43ecHf+P/CrzblpYFpTbAhKwi7pCnozjcc67VfHauYCICwe\n",
        "HehgucFKj2I9jSaiWaVzqBwUQzaLA3vkX2T5Nf5n\n",
        "-----END CERTIFICATE-----\n",
    );
    const SELF_SIGNED_KEY: &str = concat!(
        "-----BEGIN PRIVATE KEY-----\n",
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgIQOqxQKVhYOIgyc7\n",
        "7eu4UWGaGSYagNEjJFGHOTV2DEihRANCAAQ7UbzUaC4NyKh1JcbDcN5lK5E7Tc1J\n",
        "uO4JHqeZnB8PdBTtCnAV48h1rbJxvC9Wci4c9UZzkbJ4+RIFh/F8GpFA\n",
        "-----END PRIVATE KEY-----\n",
    );

    /// A TLS server on 127.0.0.1 answering `connections` connections with "200 ok".
    fn self_signed_server(connections: usize) -> String {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).expect("cert");
        let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .expect("server config"),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let Ok(tcp) = stream else { continue };
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        format!("https://127.0.0.1:{port}/")
    }

    /// One run's I/O for the whole test binary, shared by every test thread.
    fn io() -> &'static Arc<RunIo> {
        static IO: std::sync::OnceLock<Arc<RunIo>> = std::sync::OnceLock::new();
        IO.get_or_init(Default::default)
    }

    fn get(url: &str, verify_tls: bool) -> Result<Value, ProviderError> {
        // As the journal records it.
        get_until(url, verify_tls, &Cancel::new())
    }

    fn get_until(url: &str, verify_tls: bool, cancel: &Cancel) -> Result<Value, ProviderError> {
        let provider = json!({"type": "http", "url": url, "timeout": 10, "verify_tls": verify_tls});
        let (configuration, secrets, env) = (Map::new(), Map::new(), BTreeMap::new());
        let registry = Registry::empty();
        let ctx = ProviderContext {
            configuration: &configuration,
            secrets: &secrets,
            env: &env,
            registry: &registry,
            cancel,
            io: io(),
        };
        let provider = crate::provider::Provider::from_value(&provider).expect("a mapping");
        let spec = HttpSpec::parse(&provider.fields, &ctx);
        run(&spec, false, &ctx).map(Output::into_value)
    }

    #[test]
    fn verify_tls_rejects_a_self_signed_certificate_unless_disabled() {
        let url = self_signed_server(2);
        match get(&url, true) {
            Err(ProviderError::Failed(msg)) => assert!(
                msg.contains("invalid peer certificate"),
                "unexpected error: {msg}"
            ),
            other => panic!("a self-signed certificate was accepted: {other:?}"),
        }
        let output = get(&url, false).expect("verify_tls false accepts it");
        assert_eq!(output["status"], json!(200));
        assert_eq!(output["body"], json!("ok"));
    }

    #[test]
    fn header_names_are_title_cased() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-fallback-reason"), "X-Fallback-Reason");
    }

    #[test]
    fn pairs_repeat_lists_and_drop_nulls() {
        let p = pairs(&json!({"a": 1, "b": [true, null, "x"], "c": null}));
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "True".into()),
                ("b".into(), "x".into())
            ]
        );
    }

    #[test]
    fn requests_on_several_threads_each_get_their_response() {
        let url = self_signed_server(4);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || (get(&url, false), get(&url, false)))
            })
            .collect();
        for worker in workers {
            let (first, second) = worker.join().expect("worker thread");
            for output in [first, second] {
                let output = output.expect("response");
                assert_eq!(output["status"], json!(200));
                assert_eq!(output["body"], json!("ok"));
            }
        }
    }

    #[test]
    fn a_request_without_answer_is_interrupted_by_cancel() {
        // Accepts the connection and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let holder = std::thread::spawn(move || listener.accept().map(|(conn, _)| conn));
        let cancel = Cancel::new();
        let canceller = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                cancel.cancel();
            })
        };
        let started = std::time::Instant::now();
        assert_eq!(
            get_until(&url, true, &cancel),
            Err(ProviderError::Interrupted)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        canceller.join().expect("canceller");
        drop(holder.join().expect("holder"));
    }
}
