//! The HTTP call to the provider's greeting, and what a failed call means: a cause in
//! words (for the naive 500) and a kind (for the fallback reason).

use std::error::Error as _;
use std::io;
use std::time::Duration;

use url::Url;

/// A successful provider answer.
pub struct ProviderReply {
    pub content_type: Option<String>,
    pub body: actix_web::web::Bytes,
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No connection could be made (refused, DNS, connect timeout, unreachable).
    #[error("{0}")]
    Connect(String),
    /// Connected, but no complete answer within the call timeout.
    #[error("timed out")]
    Timeout,
    /// The provider answered with a non-2xx status.
    #[error("provider answered {0}")]
    Status(reqwest::StatusCode),
    /// The body went on past the limit (`--max-body-bytes`).
    #[error("the provider's body is larger than {0} bytes (--max-body-bytes)")]
    TooLarge(usize),
    /// Anything else on the wire (reset, truncated answer, protocol error).
    #[error("{0}")]
    Other(String),
}

impl CallError {
    /// The `X-Fallback-Reason` for this failure.
    pub fn fallback_reason(&self) -> &'static str {
        match self {
            CallError::Connect(_) => "connect-error",
            CallError::Timeout => "timeout",
            CallError::Status(_) | CallError::TooLarge(_) | CallError::Other(_) => "provider-error",
        }
    }

    fn from_reqwest(err: &reqwest::Error) -> CallError {
        if err.is_dns() {
            return CallError::Connect("dns lookup failed".to_string());
        }
        if err.is_connect() {
            let cause = match io_error_kind(err) {
                Some(io::ErrorKind::ConnectionRefused) => "connection refused".to_string(),
                Some(io::ErrorKind::TimedOut) => "connect timed out".to_string(),
                _ if err.is_timeout() => "connect timed out".to_string(),
                _ => format!("connection failed: {}", innermost(err)),
            };
            return CallError::Connect(cause);
        }
        if err.is_timeout() {
            return CallError::Timeout;
        }
        match io_error_kind(err) {
            Some(io::ErrorKind::ConnectionReset) => {
                CallError::Other("connection reset".to_string())
            }
            Some(io::ErrorKind::TimedOut) => CallError::Timeout,
            _ => CallError::Other(format!("request failed: {}", innermost(err))),
        }
    }
}

/// The first `io::Error` kind in the error's source chain.
fn io_error_kind(err: &reqwest::Error) -> Option<io::ErrorKind> {
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// The deepest message in the chain: the most specific description of what went wrong.
fn innermost(err: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// An HTTP client bound to the provider's URL.
pub struct ProviderClient {
    http: reqwest::Client,
    url: Url,
    /// The most bytes of a body read.
    max_body: usize,
}

/// A reqwest client builder with the process's TLS provider in place. The workspace
/// builds reqwest without a provider of its own (one provider, ring), and cargo unifies
/// that choice into this crate's reqwest, where building a client with none panics.
fn builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

impl ProviderClient {
    /// The naive client: no timeouts at all (the "before" system); bodies of at most
    /// `max_body` bytes.
    pub fn naive(url: Url, max_body: usize) -> reqwest::Result<Self> {
        Ok(Self {
            http: builder().build()?,
            url,
            max_body,
        })
    }

    /// A client whose calls end after `call_timeout` whatever happens, and whose
    /// connects end after `connect_timeout`.
    pub fn bounded(
        url: Url,
        connect_timeout: Duration,
        call_timeout: Duration,
        max_body: usize,
    ) -> reqwest::Result<Self> {
        let http = builder()
            .connect_timeout(connect_timeout)
            .timeout(call_timeout)
            .build()?;
        Ok(Self {
            http,
            url,
            max_body,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `GET` the provider's URL and read the whole body (at most `max_body` bytes: a
    /// provider streaming without end must not take the consumer's memory); non-2xx is
    /// an error.
    pub async fn fetch(&self) -> Result<ProviderReply, CallError> {
        let response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|e| CallError::from_reqwest(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(CallError::Status(status));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(CallError::TooLarge(self.max_body));
        }
        let mut response = response;
        let mut body = actix_web::web::BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CallError::from_reqwest(&e))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(CallError::TooLarge(self.max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ProviderReply {
            content_type,
            body: body.freeze(),
        })
    }
}
