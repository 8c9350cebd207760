//! The services of the lab (the provider, the consumer, and optionally the fault proxy
//! between them) and the consumer's two modes.
//!
//! Names are the tutorial's Deployment names, so `lab kill my-provider-app` reads like
//! the chaosk8s `kill_microservice(name="my-provider-app")` it stands in for.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// A service of the lab, named as in the tutorial.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize, Deserialize,
)]
pub enum Service {
    /// The provider: answers the greeting the consumer forwards.
    #[value(name = "my-provider-app")]
    #[serde(rename = "my-provider-app")]
    Provider,
    /// The fault proxy between consumer and provider (`lab up --fault-proxy`): a
    /// Toxiproxy-compatible TCP proxy whose toxics put latency, resets and HTTP errors
    /// on the wire.
    #[value(name = "fault-proxy")]
    #[serde(rename = "fault-proxy")]
    FaultProxy,
    /// The consumer: `/invokeConsumedService` calls the provider.
    #[value(name = "my-consumer-app")]
    #[serde(rename = "my-consumer-app")]
    Consumer,
}

impl Service {
    /// Start order: the provider first, then the proxy in front of it, so the consumer
    /// finds what it calls when it starts.
    pub const ALL: [Service; 3] = [Service::Provider, Service::FaultProxy, Service::Consumer];

    /// The services a lab runs, in start order: the fault proxy only when it has one.
    pub fn of_lab(fault_proxy: bool) -> Vec<Service> {
        Service::ALL
            .into_iter()
            .filter(|service| *service != Service::FaultProxy || fault_proxy)
            .collect()
    }

    /// The name users type and see (the tutorial's Deployment name).
    pub fn name(self) -> &'static str {
        match self {
            Service::Provider => "my-provider-app",
            Service::FaultProxy => "fault-proxy",
            Service::Consumer => "my-consumer-app",
        }
    }

    /// The executable that implements the service (a workspace binary).
    pub fn binary(self) -> &'static str {
        match self {
            Service::Provider => "provider-app",
            Service::FaultProxy => "fault-proxy",
            Service::Consumer => "consumer-app",
        }
    }

    /// The default local port (the tutorial's provider Service listens on 8080; the
    /// fault proxy's API on Toxiproxy's 8474, so its clients find it unconfigured).
    pub fn default_port(self) -> u16 {
        match self {
            Service::Provider => 8080,
            Service::FaultProxy => 8474,
            Service::Consumer => 8081,
        }
    }

    /// Where a started service answers 200 once it is ready. The fault proxy has only
    /// Toxiproxy's API, whose `/version` answers once it listens.
    pub fn ready_url(self, port: u16) -> String {
        let path = match self {
            Service::Provider | Service::Consumer => "health/ready",
            Service::FaultProxy => "version",
        };
        format!("http://127.0.0.1:{port}/{path}")
    }

    /// The `lab up` flag that chooses this service's port (quoted in error messages).
    pub fn port_flag(self) -> &'static str {
        match self {
            Service::Provider => "--provider-port",
            Service::FaultProxy => "--fault-proxy-port",
            Service::Consumer => "--consumer-port",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which consumer runs: the naive one of the tutorial or the fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Resilience off: a provider failure becomes the consumer's 500 (the cascade).
    #[default]
    Before,
    /// Resilience on: timeouts, a circuit breaker and a fallback answer.
    After,
}

impl Mode {
    /// The consumer's `--resilience` value for this mode.
    pub fn resilience(self) -> &'static str {
        match self {
            Mode::Before => "off",
            Mode::After => "on",
        }
    }

    /// The mode a consumer runs in, from its `--resilience` value (`CONSUMER_RESILIENCE`
    /// on Kubernetes, `resilience` in its readiness answer).
    pub fn from_resilience(value: &str) -> Option<Mode> {
        [Mode::Before, Mode::After]
            .into_iter()
            .find(|mode| mode.resilience() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Before => "before",
            Mode::After => "after",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_tutorial_deployment_names() {
        assert_eq!(Service::Provider.name(), "my-provider-app");
        assert_eq!(Service::Consumer.name(), "my-consumer-app");
        assert_eq!(
            serde_json::to_string(&Service::Consumer).unwrap(),
            "\"my-consumer-app\""
        );
    }

    #[test]
    fn names_parse_from_the_command_line_and_nothing_else_does() {
        assert_eq!(
            Service::from_str("my-provider-app", false),
            Ok(Service::Provider)
        );
        assert!(Service::from_str("provider", false).is_err());
    }

    #[test]
    fn modes_map_to_the_consumer_resilience_flag() {
        assert_eq!(Mode::Before.resilience(), "off");
        assert_eq!(Mode::After.resilience(), "on");
        assert_eq!(Mode::from_resilience("off"), Some(Mode::Before));
        assert_eq!(Mode::from_resilience("on"), Some(Mode::After));
        assert_eq!(Mode::from_resilience("maybe"), None);
        assert_eq!(serde_json::to_string(&Mode::After).unwrap(), "\"after\"");
    }
}
