//! Requests whose body is the experiment's JSON as written: chaosk8s hands its dicts to
//! the Python client unchanged, so the API server (not a typed model) decides what a
//! field means and which are unknown. Also the text of an API error as the Python client
//! shows it (`ApiException.body`), which some chaosk8s messages embed.

use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Request;
use serde_json::{Value, json};

use crate::client::Cluster;
use crate::error::Error;

/// The collection path of a namespaced kind: `/apis/GROUP/VERSION/namespaces/NS/PLURAL`.
pub(crate) fn namespaced(group_version: &str, ns: &str, plural: &str) -> String {
    format!("/apis/{group_version}/namespaces/{ns}/{plural}")
}

async fn send(
    cluster: &Cluster,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<Value, Error> {
    let request = request.map_err(|e| Error::Client(format!("cannot build the request: {e}")))?;
    cluster
        .client()
        .request::<Value>(request)
        .await
        .map_err(|e| cluster.error(e))
}

/// POSTs `body` to the collection `path`; the created object.
pub(crate) async fn create(cluster: &Cluster, path: &str, body: &Value) -> Result<Value, Error> {
    let bytes = serde_json::to_vec(body).map_err(|e| Error::Client(e.to_string()))?;
    send(
        cluster,
        Request::new(path).create(&PostParams::default(), bytes),
    )
    .await
}

/// DELETEs `name` in the collection `path`.
pub(crate) async fn delete(
    cluster: &Cluster,
    path: &str,
    name: &str,
    params: &DeleteParams,
) -> Result<Value, Error> {
    send(cluster, Request::new(path).delete(name, params)).await
}

/// A strategic merge patch of `name` in `path` (what the Python client sends for a dict).
pub(crate) async fn patch(
    cluster: &Cluster,
    path: &str,
    name: &str,
    body: &Value,
) -> Result<Value, Error> {
    send(
        cluster,
        Request::new(path).patch(name, &PatchParams::default(), &Patch::Strategic(body)),
    )
    .await
}

/// The collection `path` listed, as the server answered it.
pub(crate) async fn list(
    cluster: &Cluster,
    path: &str,
    params: &ListParams,
) -> Result<Value, Error> {
    send(cluster, Request::new(path).list(params)).await
}

/// The Status object the API server answered with, as `ApiException.body` shows it (the
/// fields kube-rs keeps; `details` is not among them).
pub(crate) fn api_body(error: &Error) -> Option<String> {
    let Error::Api {
        code,
        reason,
        message,
    } = error
    else {
        return None;
    };
    Some(
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        })
        .to_string(),
    )
}

/// `str(ApiException)` as the Python client writes it, without the response headers
/// (their dates and ids differ on every call).
pub(crate) fn api_exception_text(error: &Error) -> String {
    match (error, api_body(error)) {
        (Error::Api { code, .. }, Some(body)) => {
            let phrase = http::StatusCode::from_u16(*code)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            format!("({code})\nReason: {phrase}\nHTTP response body: {body}\n")
        }
        _ => error.to_string(),
    }
}

/// Turns an API error into the `ActivityFailed` chaosk8s raises with `prefix` and the
/// error's body; any other error is left as it is.
pub(crate) fn failed_with_body(error: Error, prefix: &str) -> Error {
    match api_body(&error) {
        Some(body) => Error::ActivityFailed(format!("{prefix}{body}")),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found() -> Error {
        Error::Api {
            code: 404,
            reason: "NotFound".into(),
            message: "nodes \"x\" not found".into(),
        }
    }

    #[test]
    fn api_errors_read_as_the_python_client_shows_them() {
        let body: Value = serde_json::from_str(&api_body(&not_found()).unwrap()).unwrap();
        assert_eq!(body["code"], 404);
        assert_eq!(body["reason"], "NotFound");
        assert_eq!(body["kind"], "Status");
        assert!(api_exception_text(&not_found()).starts_with("(404)\nReason: Not Found\n"));
        let failed = failed_with_body(not_found(), "Failed: ");
        assert!(matches!(failed, Error::ActivityFailed(m) if m.starts_with("Failed: {\"kind\"")));
        assert!(api_body(&Error::Connection("x".into())).is_none());
        assert!(matches!(
            failed_with_body(Error::Connection("x".into()), "Failed: "),
            Error::Connection(_)
        ));
    }
}
