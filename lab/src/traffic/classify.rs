//! What one user request got: the consumer's answer sorted into ok, degraded (the
//! resilient consumer's fallback, with its reason), failed (with the status or the
//! cause) or timed out. See docs/contracts.md, consumer-app, for the answers.

use std::fmt;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer from the provider, passed on.
    Ok,
    /// A 2xx fallback (`X-Fallback: true`); the reason is `X-Fallback-Reason`.
    Degraded { reason: String },
    /// An error answer, or no answer at all.
    Failed { cause: FailureCause },
    /// No full answer within the per-request timeout.
    TimedOut,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCause {
    /// The consumer answered with a non-2xx status.
    Status(u16),
    /// The connection could not be made (nothing listens, refused).
    Connect(String),
    /// Too many requests were still in flight when this one was due, so it was not sent
    /// (the generator's `--concurrency` cap; a stalled consumer shows here too).
    ConcurrencyCap,
    /// Anything else the client reported (a reset connection, a malformed answer).
    Other(String),
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Status(code) => write!(f, "HTTP {code}"),
            FailureCause::Connect(why) => write!(f, "connect: {why}"),
            FailureCause::ConcurrencyCap => f.write_str("concurrency cap"),
            FailureCause::Other(why) => f.write_str(why),
        }
    }
}

/// Classifies an answer from its status and its `X-Fallback*` headers.
pub fn answer(status: u16, headers: &reqwest::header::HeaderMap) -> Outcome {
    if !(200..300).contains(&status) {
        return Outcome::Failed {
            cause: FailureCause::Status(status),
        };
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-fallback").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        let reason = header("x-fallback-reason").unwrap_or("unknown");
        return Outcome::Degraded {
            reason: reason.to_string(),
        };
    }
    Outcome::Ok
}

/// Classifies a client error: a timeout, a failed connect, or something else. The
/// message is the innermost source, which names the cause ("Connection refused").
pub fn error(err: &reqwest::Error) -> Outcome {
    if err.is_timeout() {
        return Outcome::TimedOut;
    }
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    let why = text.split(" (os error").next().unwrap_or(&text).to_string();
    let cause = if err.is_connect() {
        FailureCause::Connect(why)
    } else {
        FailureCause::Other(why)
    };
    Outcome::Failed { cause }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn answers_are_ok_degraded_or_failed() {
        let mut headers = HeaderMap::new();
        assert_eq!(answer(200, &headers), Outcome::Ok);
        assert_eq!(
            answer(500, &headers),
            Outcome::Failed {
                cause: FailureCause::Status(500)
            }
        );
        headers.insert("x-fallback", HeaderValue::from_static("true"));
        assert_eq!(
            answer(200, &headers),
            Outcome::Degraded {
                reason: "unknown".into()
            }
        );
        headers.insert(
            "x-fallback-reason",
            HeaderValue::from_static("circuit-open"),
        );
        assert_eq!(
            answer(200, &headers),
            Outcome::Degraded {
                reason: "circuit-open".into()
            }
        );
        // A fallback marker on an error status is still a failure.
        assert!(matches!(answer(503, &headers), Outcome::Failed { .. }));
    }

    #[test]
    fn causes_read_as_short_phrases() {
        assert_eq!(FailureCause::Status(500).to_string(), "HTTP 500");
        assert_eq!(
            FailureCause::Connect("Connection refused".into()).to_string(),
            "connect: Connection refused"
        );
        assert_eq!(FailureCause::ConcurrencyCap.to_string(), "concurrency cap");
    }
}
