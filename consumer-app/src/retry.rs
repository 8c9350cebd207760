//! Retries of a failed provider call (`--retries`, opt-in): how long to wait before each
//! (exponential backoff with full jitter) and whether the budget allows one more.
//!
//! Without a budget, an outage of the provider multiplies the calls it gets by
//! `1 + retries` just when it can least take them: a retry storm. The budget (tower's
//! `TpsBudget`, finagle's design) lets the retries of the last second be at most a
//! percentage of its requests plus a small floor, so retries still mend the odd failure
//! but cannot amplify an outage.

use std::time::Duration;

use rand::RngExt as _;
use tower::retry::budget::{Budget as _, TpsBudget};

use crate::cli::{RetryArgs, RetryBudget};
use crate::provider_client::CallError;

/// How long a request counts towards the budget: the "per second" of the percentage.
const BUDGET_WINDOW: Duration = Duration::from_secs(1);

pub struct RetryPolicy {
    retries: u32,
    base: Duration,
    cap: Duration,
    /// `None`: naive retries, every failed call retries `retries` times.
    budget: Option<TpsBudget>,
}

impl RetryPolicy {
    /// The policy of `args`, or `None` when it never retries (`--retries 0`).
    pub fn new(args: &RetryArgs) -> Option<RetryPolicy> {
        if args.retries == 0 {
            return None;
        }
        let budget = match args.retry_budget {
            RetryBudget::Unlimited => None,
            // The flags are range-checked (0..=100 %, floor 0..=1000), inside what
            // TpsBudget accepts (ratio 0..=1000, floor < i32::MAX, window 1..=60 s).
            RetryBudget::Percent(percent) => Some(TpsBudget::new(
                BUDGET_WINDOW,
                args.retry_budget_floor,
                budget_ratio(percent),
            )),
        };
        Some(RetryPolicy {
            retries: args.retries,
            base: Duration::from_millis(args.retry_backoff_ms),
            cap: Duration::from_millis(args.retry_backoff_max_ms),
            budget,
        })
    }

    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// A request arrived: it earns the budget its share of a retry.
    pub fn on_request(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }

    /// Whether the budget allows one more retry now (taking it if so).
    pub fn may_retry(&self) -> bool {
        self.budget.as_ref().is_none_or(TpsBudget::withdraw)
    }

    /// The wait before retry number `retry` (0 for the first): uniform in
    /// `0..=min(cap, base * 2^retry)` ("full jitter": the waits of many failed requests
    /// spread over the whole interval instead of arriving together).
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }

    /// The upper bound of the wait before retry number `retry`.
    fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// `percent` as the ratio TpsBudget takes. It charges a retry `1 / ratio` deposits,
/// truncated to a whole number, and 0.1 in f32 is a hair above a tenth (1 / 0.1 = 9.99…,
/// so 9): a ratio a hair below keeps 10 % at one retry per ten requests.
fn budget_ratio(percent: u32) -> f32 {
    percent as f32 / 100.0 * (1.0 - 1e-6)
}

/// Whether a failed call is worth another try: the provider (or the way to it) failed;
/// a body over the limit or a 4xx other than 429 would fail the same way again.
pub fn is_retryable(err: &CallError) -> bool {
    match err {
        CallError::Connect(_) | CallError::Timeout | CallError::Other(_) => true,
        CallError::Status(status) => {
            status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
        }
        CallError::TooLarge(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(retries: u32, budget: RetryBudget, floor: u32) -> RetryArgs {
        RetryArgs {
            retries,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            retry_budget: budget,
            retry_budget_floor: floor,
        }
    }

    #[test]
    fn no_retries_is_no_policy() {
        assert!(RetryPolicy::new(&args(0, RetryBudget::Unlimited, 0)).is_none());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_is_jittered_below_it() {
        let policy = RetryPolicy::new(&args(10, RetryBudget::Unlimited, 0)).unwrap();
        let ceilings: Vec<u64> = (0..6)
            .map(|n| policy.ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_millis(1000));
        for retry in 0..6 {
            let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(retry)).collect();
            let ceiling = policy.ceiling(retry);
            assert!(waits.iter().all(|w| *w <= ceiling), "retry {retry}");
            // Jittered: spread over the interval, not one value.
            let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
            assert!(distinct.len() > 20, "retry {retry}: {distinct:?}");
            let low = waits.iter().filter(|w| **w < ceiling / 2).count();
            assert!(
                (40..=160).contains(&low),
                "retry {retry}: {low} of 200 below half"
            );
        }
    }

    #[tokio::test]
    async fn the_budget_allows_its_percentage_plus_the_floor() {
        let policy = RetryPolicy::new(&args(3, RetryBudget::Percent(10), 2)).unwrap();
        for _ in 0..100 {
            policy.on_request();
        }
        let allowed = (0..1000).filter(|_| policy.may_retry()).count();
        // 10 % of 100 requests, plus the floor of 2 per second (TpsBudget may round).
        assert!((10..=13).contains(&allowed), "{allowed}");
    }

    /// Requests at 50 a second for 2 s, each failing and asking for a retry: the budget
    /// lets through 10 % of them plus the floor of 3 each time its window has slid by.
    #[tokio::test(start_paused = true)]
    async fn over_time_the_budget_is_its_percentage_of_the_requests_plus_the_floor() {
        let policy = RetryPolicy::new(&args(3, RetryBudget::Percent(10), 3)).unwrap();
        let mut allowed = 0;
        for _ in 0..100 {
            policy.on_request();
            allowed += usize::from(policy.may_retry());
            tokio::time::advance(Duration::from_millis(20)).await;
        }
        // At least its 10 % of the requests; at most that plus the floor at the start,
        // after one second and after two.
        assert!((10..=10 + 3 * 3).contains(&allowed), "{allowed}");
    }

    #[test]
    fn without_a_budget_every_retry_is_allowed() {
        let policy = RetryPolicy::new(&args(3, RetryBudget::Unlimited, 0)).unwrap();
        assert!((0..1000).all(|_| policy.may_retry()));
    }

    #[test]
    fn only_failures_that_may_pass_next_time_are_retried() {
        assert!(is_retryable(&CallError::Timeout));
        assert!(is_retryable(&CallError::Connect("refused".into())));
        assert!(is_retryable(&CallError::Status(
            reqwest::StatusCode::SERVICE_UNAVAILABLE
        )));
        assert!(is_retryable(&CallError::Status(
            reqwest::StatusCode::TOO_MANY_REQUESTS
        )));
        assert!(!is_retryable(&CallError::Status(
            reqwest::StatusCode::NOT_FOUND
        )));
        assert!(!is_retryable(&CallError::TooLarge(10)));
    }
}
