//! Prometheus metrics: Toxiproxy's byte counters (same names and labels as its
//! `-proxy-metrics`), plus our connection counters.

use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    /// `toxiproxy_proxy_received_bytes_total{direction,proxy,listener,upstream}`.
    pub received: IntCounterVec,
    /// `toxiproxy_proxy_sent_bytes_total{direction,proxy,listener,upstream}`.
    pub sent: IntCounterVec,
    /// Connections accepted and served, per proxy.
    pub accepted: IntCounterVec,
    /// Connections closed at once because the proxy was at its connection cap.
    pub refused: IntCounterVec,
    /// Connections open now, per proxy.
    pub active: IntGaugeVec,
    /// Requests answered by an `http_status` toxic.
    pub http_answers: IntCounterVec,
}

const LINK_LABELS: &[&str] = &["direction", "proxy", "listener", "upstream"];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let received = counter(
            "toxiproxy_proxy_received_bytes_total",
            "Bytes read from a proxy's sources (client upstream, server downstream)",
            LINK_LABELS,
        );
        let sent = counter(
            "toxiproxy_proxy_sent_bytes_total",
            "Bytes written to a proxy's destinations",
            LINK_LABELS,
        );
        let accepted = counter(
            "fault_proxy_connections_total",
            "Connections accepted and served",
            &["proxy"],
        );
        let refused = counter(
            "fault_proxy_connections_refused_total",
            "Connections closed at once because the proxy was at --max-connections",
            &["proxy"],
        );
        let http_answers = counter(
            "fault_proxy_http_answers_total",
            "HTTP requests answered by an http_status toxic instead of the upstream",
            &["proxy"],
        );
        let active = IntGaugeVec::new(
            Opts::new("fault_proxy_connections_active", "Connections open now"),
            &["proxy"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(active.clone()))
            .expect("unique metric");
        Self {
            registry,
            received,
            sent,
            accepted,
            refused,
            active,
            http_answers,
        }
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
