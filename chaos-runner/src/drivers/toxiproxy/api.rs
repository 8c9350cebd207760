//! The Toxiproxy HTTP API, called as the extension calls it: the base URL built from
//! the run's configuration, one request per call with `requests`' defaults (no
//! timeout, redirects followed, `ok` meaning a status below 400), on the run's runtime
//! with its shared client, given up on Ctrl-C.

use reqwest::Method;
use serde_json::{Map, Value};

use crate::drivers::{Context, DriverError};
use crate::python_value::{py_str, py_truthy};

/// The most of an answer's body kept: Toxiproxy's answers are a few KB; a larger one
/// is not Toxiproxy and is not held in memory.
const MAX_BODY: usize = 4 << 20;

/// The API's base URL, as the extension builds it from the configuration:
/// `toxiproxy_url` when set (not empty), else `http://<toxiproxy_host>:<toxiproxy_port>`,
/// the port 8474 when unset, empty or 0. Values are pasted as Python's `str()` would
/// (a missing host gives `http://None:8474`, as in the reference).
pub fn base_url(configuration: &Map<String, Value>) -> Result<String, DriverError> {
    let set = |key: &str| configuration.get(key).filter(|v| py_truthy(v));
    match set("toxiproxy_url") {
        Some(Value::String(url)) => Ok(url.clone()),
        Some(other) => Err(DriverError::Failed(format!(
            "configuration 'toxiproxy_url' must be a string (the Toxiproxy API's URL), got {other}"
        ))),
        None => {
            let host = configuration
                .get("toxiproxy_host")
                .map_or_else(|| "None".to_string(), py_str);
            let port = set("toxiproxy_port").map_or_else(|| "8474".to_string(), py_str);
            Ok(format!("http://{host}:{port}"))
        }
    }
}

/// An answer of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// `requests`' `Response.ok`.
    pub fn ok(&self) -> bool {
        self.status < 400
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Response.json()`).
    pub fn json(&self) -> Result<Value, DriverError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            DriverError::Failed(format!(
                "the Toxiproxy API answered {} with a body that is not JSON ({e}): {}",
                self.status,
                self.text().chars().take(200).collect::<String>()
            ))
        })
    }
}

/// The API of the server the configuration names, for one call.
pub struct Api<'a> {
    base: String,
    context: &'a Context<'a>,
}

impl<'a> Api<'a> {
    pub fn new(context: &'a Context<'a>) -> Result<Self, DriverError> {
        let base = base_url(context.configuration)?;
        tracing::debug!("Calculated toxiproxy URL is: {base}");
        Ok(Api { base, context })
    }

    /// `<base>/proxies`.
    pub fn proxies(&self) -> String {
        format!("{}/proxies", self.base)
    }

    /// `<base>/proxies/<name>`.
    pub fn proxy(&self, name: &str) -> String {
        format!("{}/proxies/{name}", self.base)
    }

    /// `<base>/<path>`.
    pub fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// Sends one request and reads the whole answer. Fails when the server cannot be
    /// reached or the exchange breaks (an HTTP error status is a [`Reply`]).
    pub fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, DriverError> {
        let context = self.context;
        tracing::debug!("{method} {url}");
        let exchange = async {
            let client = context
                .io
                .http
                .plain()
                .map_err(|e| DriverError::Failed(e.to_string()))?;
            let mut request = client.request(method.clone(), url);
            if let Some(body) = body {
                request = request.json(body);
            }
            let work = async {
                let mut response = request.send().await?;
                let status = response.status().as_u16();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Ok(Err(status));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>(Ok(Reply { status, body }))
            };
            match context.cancel.until_cancelled(work).await {
                None => Err(DriverError::Failed("interrupted".into())),
                Some(Ok(Ok(reply))) => Ok(reply),
                Some(Ok(Err(status))) => Err(DriverError::Failed(format!(
                    "the Toxiproxy API at {url} answered {status} with a body over {MAX_BODY} bytes"
                ))),
                Some(Err(e)) => Err(unreachable(&method, url, &e)),
            }
        };
        context
            .io
            .runtime
            .block_on(|| exchange)
            .map_err(|e| DriverError::Failed(format!("cannot start the async runtime: {e}")))?
    }
}

/// Why a request got no answer, with every cause (reqwest's own text stops at the
/// first: "error sending request").
fn unreachable(method: &Method, url: &str, error: &reqwest::Error) -> DriverError {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let what = if error.is_builder() {
        "invalid Toxiproxy API URL"
    } else {
        "cannot reach the Toxiproxy API"
    };
    let why = if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    };
    DriverError::Failed(format!("{what}: {method} {url}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(configuration: Value) -> Result<String, String> {
        let Value::Object(c) = configuration else {
            panic!("configuration must be an object")
        };
        base_url(&c).map_err(|e| e.to_string())
    }

    #[test]
    fn base_url_is_built_as_the_extension_builds_it() {
        let cases = [
            (
                json!({"toxiproxy_host": "10.0.0.5"}),
                "http://10.0.0.5:8474",
            ),
            (
                json!({"toxiproxy_host": "localhost", "toxiproxy_port": 9000}),
                "http://localhost:9000",
            ),
            (
                json!({"toxiproxy_host": "localhost", "toxiproxy_port": "9001"}),
                "http://localhost:9001",
            ),
            // An unset, empty or zero port is the default.
            (
                json!({"toxiproxy_host": "h", "toxiproxy_port": ""}),
                "http://h:8474",
            ),
            (
                json!({"toxiproxy_host": "h", "toxiproxy_port": 0}),
                "http://h:8474",
            ),
            // The URL wins over host and port, and is used as written.
            (
                json!({"toxiproxy_host": "h", "toxiproxy_port": 1,
                       "toxiproxy_url": "https://proxy.example/toxi"}),
                "https://proxy.example/toxi",
            ),
            // An empty URL is unset.
            (
                json!({"toxiproxy_host": "h", "toxiproxy_url": ""}),
                "http://h:8474",
            ),
            // No host at all: Python pastes None, and the request then fails.
            (json!({}), "http://None:8474"),
        ];
        for (configuration, expected) in cases {
            assert_eq!(
                url(configuration.clone()),
                Ok(expected.to_string()),
                "{configuration}"
            );
        }
        assert_eq!(
            url(json!({"toxiproxy_url": 5})),
            Err(
                "configuration 'toxiproxy_url' must be a string (the Toxiproxy API's URL), got 5"
                    .to_string()
            )
        );
    }
}
