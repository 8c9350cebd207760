//! The circuit breaker (failsafe's state machine with a consecutive-failures policy)
//! and the observer that mirrors its state for `/health/ready`, metrics and logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use failsafe::backoff::{self, Constant};
use failsafe::failure_policy::{self, ConsecutiveFailures};
use failsafe::{Config, Instrument, StateMachine};

use crate::metrics::ConsumerMetrics;

pub type Breaker = StateMachine<ConsecutiveFailures<Constant>, CircuitObserver>;

/// Opens after `failures` consecutive failed calls; stays open for `open_for`, then lets
/// a trial call through half-open: one success closes it, one failure opens it again.
pub fn breaker(failures: u32, open_for: Duration, observer: CircuitObserver) -> Breaker {
    Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            failures,
            backoff::constant(open_for),
        ))
        .instrument(observer)
        .build()
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Receives failsafe's state-change hooks.
#[derive(Clone)]
pub struct CircuitObserver {
    state: Arc<AtomicU8>,
    metrics: ConsumerMetrics,
}

impl CircuitObserver {
    pub fn new(metrics: ConsumerMetrics) -> Self {
        Self {
            state: Arc::new(AtomicU8::new(CLOSED)),
            metrics,
        }
    }

    /// `closed`, `open` or `half_open`, as of failsafe's last transition. failsafe moves
    /// open -> half_open lazily, when asked for permission after the open period
    /// (`Invoker::circuit_state` asks before reading this).
    pub fn state(&self) -> &'static str {
        match self.state.load(Ordering::Relaxed) {
            OPEN => "open",
            HALF_OPEN => "half_open",
            _ => "closed",
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Relaxed) == CLOSED
    }

    fn enter(&self, state: u8) {
        let previous = self.state.swap(state, Ordering::Relaxed);
        let name = self.state();
        self.metrics.set_circuit_state(name);
        if previous != state {
            self.metrics
                .circuit_transitions
                .with_label_values(&[name])
                .inc();
            match state {
                OPEN => tracing::warn!(
                    circuit = name,
                    "circuit opened: provider calls are short-cut to the fallback"
                ),
                _ => tracing::info!(circuit = name, "circuit state changed"),
            }
        }
    }
}

impl Instrument for CircuitObserver {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        self.enter(OPEN);
    }

    fn on_half_open(&self) {
        self.enter(HALF_OPEN);
    }

    fn on_closed(&self) {
        self.enter(CLOSED);
    }
}
