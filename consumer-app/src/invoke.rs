//! `/invokeConsumedService`: the provider call in the naive ("before") and resilient
//! ("after") modes, and how each turns a failure into an answer.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse};
use failsafe::futures::CircuitBreaker as _;
use serde_json::json;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::circuit::{self, Breaker, CircuitObserver};
use crate::cli::Tuning;
use crate::metrics::ConsumerMetrics;
use crate::provider_client::{CallError, ProviderClient, ProviderReply};
use crate::retry::{self, RetryPolicy};

/// The protections of the "after" system.
struct Protections {
    breaker: Breaker,
    observer: CircuitObserver,
    /// Caps provider calls in flight, so a slow provider cannot tie up every worker.
    bulkhead: Semaphore,
    /// One permit: the single trial call while the circuit is half-open.
    trial: Semaphore,
    /// Retries of a failed call (`--retries`), if any.
    retry: Option<RetryPolicy>,
}

impl Protections {
    /// Whether the circuit lets a call go to the provider now (with the trial permit to
    /// hold while half-open), or the fallback reason. failsafe lets every call through
    /// while half-open; one trial call tells whether the provider is back, so the others
    /// keep getting the fallback instead of piling onto a provider that may still hang.
    /// failsafe runs its state hooks after releasing its lock, so a call can be let
    /// through half-open before the observer has heard of the change: any state but
    /// `closed` is taken as half-open here.
    fn admit(&self) -> Result<Option<SemaphorePermit<'_>>, &'static str> {
        if !self.breaker.is_call_permitted() {
            return Err("circuit-open");
        }
        if self.observer.is_closed() {
            return Ok(None);
        }
        self.trial
            .try_acquire()
            .map(Some)
            .map_err(|_| "circuit-half-open")
    }
}

pub struct Invoker {
    client: ProviderClient,
    protections: Option<Protections>,
    metrics: ConsumerMetrics,
}

impl Invoker {
    /// The "before" system: a client without timeouts and no fallback.
    pub fn naive(client: ProviderClient, metrics: ConsumerMetrics) -> Self {
        metrics.set_circuit_state("disabled");
        Self {
            client,
            protections: None,
            metrics,
        }
    }

    /// The "after" system: `client` must already carry the timeouts from `tuning`.
    pub fn resilient(client: ProviderClient, tuning: &Tuning, metrics: ConsumerMetrics) -> Self {
        let observer = CircuitObserver::new(metrics.clone());
        let breaker = circuit::breaker(
            tuning.circuit_failure_threshold,
            Duration::from_millis(tuning.circuit_open_ms),
            observer.clone(),
        );
        let bulkhead = Semaphore::new(tuning.max_concurrent_calls as usize);
        Self {
            client,
            protections: Some(Protections {
                breaker,
                observer,
                bulkhead,
                trial: Semaphore::new(1),
                retry: RetryPolicy::new(&tuning.retry),
            }),
            metrics,
        }
    }

    /// `closed|open|half_open`, or `disabled` without resilience. failsafe leaves `open`
    /// only when asked for permission; asking here too (which changes nothing else) lets
    /// readiness and metrics show `half_open` as soon as the open period is over, rather
    /// than after the next call.
    pub fn circuit_state(&self) -> &'static str {
        self.protections.as_ref().map_or("disabled", |p| {
            p.breaker.is_call_permitted();
            p.observer.state()
        })
    }

    pub async fn invoke(&self, request: &HttpRequest) -> HttpResponse {
        match &self.protections {
            None => self.invoke_naive(request).await,
            Some(protections) => self.invoke_resilient(protections).await,
        }
    }

    /// No timeout: the call waits as long as the provider does, which is the point of
    /// the "before" system. It ends early only when our own client gives up, so a hanging
    /// provider cannot pile up connections nobody waits for.
    async fn invoke_naive(&self, request: &HttpRequest) -> HttpResponse {
        let fetched = tokio::select! {
            fetched = self.timed_fetch() => fetched,
            () = service_common::peer::client_gone(request) => {
                tracing::debug!("the client left while the provider call was waiting");
                return service_common::peer::gone_response();
            }
        };
        match fetched {
            Ok(reply) => self.ok(reply),
            Err(err) => {
                tracing::warn!(cause = %err, provider_url = %self.client.url(), "provider call failed");
                self.metrics.invocations.with_label_values(&["error"]).inc();
                HttpResponse::InternalServerError().json(json!({
                    "error": "provider call failed",
                    "cause": err.to_string(),
                    "provider_url": self.client.url().as_str(),
                }))
            }
        }
    }

    async fn invoke_resilient(&self, protections: &Protections) -> HttpResponse {
        let Ok(_permit) = protections.bulkhead.try_acquire() else {
            return self.fallback("bulkhead-full");
        };
        let _trial = match protections.admit() {
            Ok(trial) => trial,
            Err(reason) => return self.fallback(reason),
        };
        // The retries (if any) run inside one breaker call: the breaker counts a request
        // as the user sees it, one failure however many tries it took.
        match protections
            .breaker
            .call(self.fetch_with_retries(protections.retry.as_ref()))
            .await
        {
            Ok(reply) => self.ok(reply),
            Err(failsafe::Error::Rejected) => self.fallback("circuit-open"),
            Err(failsafe::Error::Inner(err)) => {
                tracing::debug!(cause = %err, "provider call failed; answering with the fallback");
                self.fallback(err.fallback_reason())
            }
        }
    }

    /// The call, then up to `--retries` more while it fails in a way worth retrying and
    /// the budget allows, each after its jittered backoff.
    async fn fetch_with_retries(
        &self,
        policy: Option<&RetryPolicy>,
    ) -> Result<ProviderReply, CallError> {
        let Some(policy) = policy else {
            return self.timed_fetch().await;
        };
        policy.on_request();
        let mut retry = 0;
        loop {
            let err = match self.timed_fetch().await {
                Ok(reply) => return Ok(reply),
                Err(err) => err,
            };
            if retry >= policy.retries() || !retry::is_retryable(&err) {
                return Err(err);
            }
            if !policy.may_retry() {
                self.metrics
                    .retries
                    .with_label_values(&["budget-exhausted"])
                    .inc();
                return Err(err);
            }
            self.metrics.retries.with_label_values(&["sent"]).inc();
            tokio::time::sleep(policy.backoff(retry)).await;
            retry += 1;
        }
    }

    async fn timed_fetch(&self) -> Result<ProviderReply, CallError> {
        let started = Instant::now();
        let result = self.client.fetch().await;
        let label = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .call_duration
            .with_label_values(&[label])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    fn ok(&self, reply: ProviderReply) -> HttpResponse {
        self.metrics.invocations.with_label_values(&["ok"]).inc();
        HttpResponse::Ok()
            .content_type(
                reply
                    .content_type
                    .as_deref()
                    .unwrap_or("text/plain; charset=utf-8"),
            )
            .body(reply.body)
    }

    fn fallback(&self, reason: &'static str) -> HttpResponse {
        self.metrics
            .invocations
            .with_label_values(&["fallback"])
            .inc();
        self.metrics.fallbacks.with_label_values(&[reason]).inc();
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Fallback", "true"))
            .insert_header(("X-Fallback-Reason", reason))
            .body(format!(
                "Degraded answer: the provider is unavailable right now ({reason}), \
                 so the consumer answers without it.\n"
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// Many calls racing for a circuit that has just become half-open: exactly one may
    /// go to the provider. (failsafe's state hooks run outside its lock, so a gate that
    /// trusted the observer's `half_open` alone let a second call slip through.)
    #[test]
    fn half_open_admits_exactly_one_trial_among_racing_calls() {
        const CALLS: usize = 8;
        let registry = prometheus::Registry::new();
        let metrics = ConsumerMetrics::register(&registry).expect("metrics");
        let observer = CircuitObserver::new(metrics);
        let protections = Protections {
            breaker: circuit::breaker(1, Duration::from_millis(1), observer.clone()),
            observer,
            bulkhead: Semaphore::new(CALLS),
            trial: Semaphore::new(1),
            retry: None,
        };
        for round in 0..300 {
            // A failure opens the circuit; after 1 ms it may half-open.
            assert!(protections.breaker.is_call_permitted());
            protections.breaker.on_error();
            std::thread::sleep(Duration::from_millis(2));
            let start = Barrier::new(CALLS);
            let done = Barrier::new(CALLS);
            let admitted: usize = std::thread::scope(|scope| {
                let calls: Vec<_> = (0..CALLS)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            let admitted = protections.admit();
                            // Hold any trial permit until every call has asked.
                            done.wait();
                            admitted.is_ok()
                        })
                    })
                    .collect();
                calls
                    .into_iter()
                    .map(|call| usize::from(call.join().expect("call")))
                    .sum()
            });
            assert_eq!(admitted, 1, "round {round}: calls let through half-open");
        }
    }
}
