//! The consumer's own metrics, next to the HTTP ones: outcome of each invocation,
//! provider-call latency, the circuit's state and transitions, and retries.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Circuit states as the metrics and `/health/ready` name them.
pub const CIRCUIT_STATES: [&str; 4] = ["closed", "open", "half_open", "disabled"];

#[derive(Clone)]
pub struct ConsumerMetrics {
    /// `outcome` = ok | fallback | error.
    pub invocations: IntCounterVec,
    /// Fallback answers by `reason` (the `X-Fallback-Reason` values).
    pub fallbacks: IntCounterVec,
    /// Provider call latency by `result` = ok | error.
    pub call_duration: HistogramVec,
    /// 1 for the current circuit state, 0 for the others.
    pub circuit_state: IntGaugeVec,
    /// Circuit state changes, by the state entered.
    pub circuit_transitions: IntCounterVec,
    /// Retries of failed provider calls, by `outcome` = sent | budget-exhausted.
    pub retries: IntCounterVec,
}

impl ConsumerMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let invocations = IntCounterVec::new(
            Opts::new(
                "consumer_invocations_total",
                "Answers of /invokeConsumedService, by outcome",
            ),
            &["outcome"],
        )?;
        let fallbacks = IntCounterVec::new(
            Opts::new("consumer_fallbacks_total", "Fallback answers, by reason"),
            &["reason"],
        )?;
        let call_duration = HistogramVec::new(
            HistogramOpts::new(
                "consumer_provider_call_duration_seconds",
                "Provider call latency, by result",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5,
                5.0, 10.0,
            ]),
            &["result"],
        )?;
        let circuit_state = IntGaugeVec::new(
            Opts::new(
                "consumer_circuit_state",
                "Circuit breaker state (1 = current)",
            ),
            &["state"],
        )?;
        let circuit_transitions = IntCounterVec::new(
            Opts::new(
                "consumer_circuit_transitions_total",
                "Circuit breaker state changes, by state entered",
            ),
            &["to"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "consumer_retries_total",
                "Retries of failed provider calls: sent, or refused by the retry budget",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(invocations.clone()))?;
        registry.register(Box::new(fallbacks.clone()))?;
        registry.register(Box::new(call_duration.clone()))?;
        registry.register(Box::new(circuit_state.clone()))?;
        registry.register(Box::new(circuit_transitions.clone()))?;
        registry.register(Box::new(retries.clone()))?;
        // Expose every label value from the start so dashboards see zeros, not gaps.
        for outcome in ["ok", "fallback", "error"] {
            invocations.with_label_values(&[outcome]);
        }
        for state in CIRCUIT_STATES {
            circuit_state.with_label_values(&[state]);
        }
        for outcome in ["sent", "budget-exhausted"] {
            retries.with_label_values(&[outcome]);
        }
        Ok(Self {
            invocations,
            fallbacks,
            call_duration,
            circuit_state,
            circuit_transitions,
            retries,
        })
    }

    /// Marks `state` as the current circuit state.
    pub fn set_circuit_state(&self, state: &str) {
        for s in CIRCUIT_STATES {
            self.circuit_state
                .with_label_values(&[s])
                .set(i64::from(s == state));
        }
    }
}
