//! The fault proxy as the lab uses it: the one proxy it configures (`provider`, in front
//! of the provider), the configuration file the proxy is started with (Toxiproxy's
//! `-config` format, so a restarted proxy comes back with its link), and what its API
//! says (the link's real port, the active toxics for `lab status`).
//!
//! The API is Toxiproxy's (docs/contracts.md); its answers are read once here into typed
//! values.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The name of the proxy between consumer and provider; experiments refer to it
/// (`proxy_name` in chaostoolkit-toxiproxy's functions, `/proxies/provider` in the API).
pub const PROVIDER_PROXY: &str = "provider";

/// The variable that gives experiments the proxy's API (`toxiproxy_url` in their
/// configuration, as chaostoolkit-toxiproxy reads it).
pub const URL_ENV: &str = "TOXIPROXY_URL";

/// The link's default port on 127.0.0.1: next to the dashboard's 8083.
pub const DEFAULT_LINK_PORT: u16 = 8084;

/// One proxy as Toxiproxy's API and `-config` file describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default, skip_serializing)]
    pub toxics: Vec<Toxic>,
}

fn enabled() -> bool {
    true
}

/// One active toxic, as the API lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Toxic {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub stream: String,
    #[serde(default = "full_toxicity")]
    pub toxicity: f64,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

fn full_toxicity() -> f64 {
    1.0
}

impl fmt::Display for Toxic {
    /// `latency_downstream (latency downstream: latency=3000, jitter=0)`, toxicity
    /// shown only when it is not 1.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} {}", self.name, self.kind, self.stream)?;
        let attributes: Vec<String> = self
            .attributes
            .iter()
            .map(|(key, value)| format!("{key}={}", compact(value)))
            .collect();
        if !attributes.is_empty() {
            write!(f, ": {}", attributes.join(", "))?;
        }
        if self.toxicity < 1.0 {
            write!(f, "; toxicity {}", self.toxicity)?;
        }
        f.write_str(")")
    }
}

/// A JSON value in one short line: strings without quotes.
fn compact(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The `provider` proxy the lab starts the fault proxy with: `listen` on 127.0.0.1 (port
/// 0: the proxy picks one), forwarding to the provider.
pub fn provider_link(link_port: u16, provider_port: u16) -> Proxy {
    Proxy {
        name: PROVIDER_PROXY.into(),
        listen: format!("127.0.0.1:{link_port}"),
        upstream: format!("127.0.0.1:{provider_port}"),
        enabled: true,
        toxics: Vec::new(),
    }
}

/// Writes the `-config` file (a JSON array of proxies) atomically.
pub fn write_config(path: &Path, proxies: &[Proxy]) -> Result<()> {
    let text = serde_json::to_string_pretty(proxies).context("cannot encode the proxy list")?;
    atomic_file::write(path, (text + "\n").as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The API's base URL on 127.0.0.1.
pub fn api_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Every proxy the API at `api` lists, by name order.
pub fn proxies(client: &reqwest::blocking::Client, api: &str) -> Result<Vec<Proxy>> {
    let url = format!("{api}/proxies");
    let response = client
        .get(&url)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .with_context(|| format!("cannot read the fault proxy's proxies ({url})"))?;
    let text = response
        .text()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    parse_proxies(&text).with_context(|| format!("unexpected answer from {url}"))
}

fn parse_proxies(text: &str) -> Result<Vec<Proxy>> {
    let by_name: std::collections::BTreeMap<String, Proxy> = serde_json::from_str(text)?;
    Ok(by_name.into_values().collect())
}

/// The port the `provider` proxy really listens on (asked for 0, the proxy chose it).
pub fn link_port(client: &reqwest::blocking::Client, api: &str) -> Result<u16> {
    let proxies = proxies(client, api)?;
    let link = proxies
        .iter()
        .find(|proxy| proxy.name == PROVIDER_PROXY)
        .with_context(|| format!("the fault proxy at {api} has no `{PROVIDER_PROXY}` proxy"))?;
    link.listen
        .parse::<std::net::SocketAddr>()
        .map(|addr| addr.port())
        .with_context(|| {
            format!(
                "the `{PROVIDER_PROXY}` proxy listens on {:?}, not IP:PORT",
                link.listen
            )
        })
}

/// The active toxics of `proxies` (and their disabled proxies), one label each
/// (`provider: latency_downstream (latency downstream: latency=3000, jitter=0)`), for
/// the dashboard.
pub fn active_toxics(proxies: &[Proxy]) -> Vec<String> {
    let toxics = proxies
        .iter()
        .filter(|proxy| proxy.enabled)
        .flat_map(|proxy| {
            proxy
                .toxics
                .iter()
                .map(move |toxic| format!("{}: {toxic}", proxy.name))
        });
    let disabled = proxies
        .iter()
        .filter(|proxy| !proxy.enabled)
        .map(|proxy| format!("{}: disabled", proxy.name));
    toxics.chain(disabled).collect()
}

/// `lab status`'s line for the proxy: each proxy with its toxics, or that it has none.
pub fn describe(proxies: &[Proxy]) -> String {
    proxies
        .iter()
        .map(|proxy| {
            let state = if proxy.enabled { "" } else { " (disabled)" };
            let toxics = if proxy.toxics.is_empty() {
                "no toxics".to_string()
            } else {
                proxy
                    .toxics
                    .iter()
                    .map(Toxic::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            format!(
                "{} {} -> {}{state}: {toxics}",
                proxy.name, proxy.listen, proxy.upstream
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_is_toxiproxys_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fault-proxy.json");
        write_config(&path, &[provider_link(0, 8080)]).unwrap();
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::json!([{"name": "provider", "listen": "127.0.0.1:0",
                                "upstream": "127.0.0.1:8080", "enabled": true}])
        );
    }

    #[test]
    fn the_api_listing_is_read_into_proxies_with_their_toxics() {
        let text = r#"{"provider": {"name": "provider", "listen": "127.0.0.1:8084",
            "upstream": "127.0.0.1:8080", "enabled": true, "toxics": [
            {"name": "latency_downstream", "type": "latency", "stream": "downstream",
             "toxicity": 1, "attributes": {"latency": 3000, "jitter": 0}},
            {"name": "half", "type": "http_status", "stream": "downstream",
             "toxicity": 0.5, "attributes": {"status": 503}}]},
            "other": {"name": "other", "listen": "127.0.0.1:9", "upstream": "x:1",
            "enabled": false, "toxics": []}}"#;
        let proxies = parse_proxies(text).unwrap();
        assert_eq!(proxies.len(), 2);
        assert_eq!(
            describe(&proxies),
            "other 127.0.0.1:9 -> x:1 (disabled): no toxics\n\
             provider 127.0.0.1:8084 -> 127.0.0.1:8080: latency_downstream (latency \
             downstream: latency=3000, jitter=0); half (http_status downstream: status=503; \
             toxicity 0.5)"
        );
        assert!(
            parse_proxies("[]").is_err(),
            "a list is not the API's answer"
        );
        assert_eq!(
            active_toxics(&proxies),
            [
                "provider: latency_downstream (latency downstream: latency=3000, jitter=0)",
                "provider: half (http_status downstream: status=503; toxicity 0.5)",
                "other: disabled"
            ]
        );
    }
}
