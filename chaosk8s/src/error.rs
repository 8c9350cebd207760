//! [`Error`] and the mapping of kube-rs errors onto it, so every failure reads as one line
//! naming what failed and, for cluster access, which server.

/// Why a call failed; the runner records `to_string()` as the activity's exception.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown function {module}.{func}")]
    UnknownFunction { module: String, func: String },
    #[error("invalid argument '{name}': {reason}")]
    InvalidArgument { name: String, reason: String },
    /// chaostoolkit's ActivityFailed: the probe or action ran and failed.
    #[error("{0}")]
    ActivityFailed(String),
    #[error("cannot reach the Kubernetes API: {0}")]
    Connection(String),
    /// The API server answered with an error status (chaosk8s lets the client's
    /// `ApiException` escape in these cases).
    #[error("Kubernetes API error ({code} {reason}): {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// The cluster access settings (kubeconfig, in-cluster files, KUBERNETES_* values) are unusable.
    #[error("Kubernetes client configuration: {0}")]
    Config(String),
    /// Anything else the Kubernetes client reported (an unreadable answer, for instance).
    #[error("Kubernetes client error: {0}")]
    Client(String),
}

pub(crate) fn unknown(module: &str, func: &str) -> Error {
    Error::UnknownFunction {
        module: module.to_string(),
        func: func.to_string(),
    }
}

pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Maps a kube-rs error from a request to `server` onto [`Error`].
pub(crate) fn from_kube(server: &str, err: kube::Error) -> Error {
    match err {
        kube::Error::Api(status) => Error::Api {
            code: status.code,
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            Error::Connection(format!("{server}: {}", causes(&err)))
        }
        kube::Error::Auth(_) | kube::Error::InferKubeconfig(_) | kube::Error::RustlsTls(_) => {
            Error::Config(format!("{server}: {}", causes(&err)))
        }
        other => Error::Client(format!("{server}: {}", causes(&other))),
    }
}

/// The error and its sources on one line, skipping a source whose text its parent
/// already repeats (kube-rs and hyper often embed the cause in the message).
pub(crate) fn causes(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    #[test]
    fn api_status_keeps_code_reason_and_message() {
        let status = Status::failure("services \"x\" not found", "NotFound").with_code(404);
        let err = from_kube(
            "https://127.0.0.1:6443/",
            kube::Error::Api(Box::new(status)),
        );
        assert_eq!(
            err.to_string(),
            "Kubernetes API error (404 NotFound): services \"x\" not found"
        );
    }

    #[test]
    fn causes_joins_sources_without_repeating_them() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner failure")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner failure")]
        struct Inner(#[source] std::io::Error);
        let err = Outer(Inner(std::io::Error::other("refused\nhere")));
        assert_eq!(causes(&err), "outer: inner failure: refused here");
    }
}
