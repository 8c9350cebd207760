//! consumer-app's flags (env equivalents in brackets in `--help`).

use clap::{Parser, ValueEnum};
use service_common::ServeArgs;
use service_common::cli::parse_positive_ms;
use url::Url;

/// Whether the consumer protects itself from its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Resilience {
    /// The "before" system: no timeout, no fallback; provider failures become 500s.
    Off,
    /// The "after" system: timeouts, circuit breaker, bulkhead and a fallback answer.
    On,
}

impl Resilience {
    pub fn as_str(self) -> &'static str {
        match self {
            Resilience::Off => "off",
            Resilience::On => "on",
        }
    }
}

/// The consumer of the Cascade Lab demo: `/invokeConsumedService` calls the provider.
#[derive(Debug, Parser)]
#[command(name = "consumer-app", version)]
pub struct Cli {
    #[command(flatten)]
    pub serve: ServeArgs,

    /// The provider's greeting URL.
    #[arg(long, env = "PROVIDER_URL", value_name = "URL",
          default_value = "http://my-provider-service:8080/", value_parser = parse_provider_url)]
    pub provider_url: Url,

    /// Resilience off (the naive "before" system) or on (the "after" system).
    #[arg(long, env = "CONSUMER_RESILIENCE", value_enum, default_value_t = Resilience::Off)]
    pub resilience: Resilience,

    /// Read at most this many bytes of the provider's body (both modes); a longer body
    /// is a failed call (naive: 500 naming the cause; resilient: fallback,
    /// `provider-error`).
    #[arg(long, env = "MAX_BODY_BYTES", value_name = "BYTES", default_value = "1048576",
          allow_negative_numbers = true, value_parser = parse_body_bytes)]
    pub max_body_bytes: usize,

    #[command(flatten)]
    pub tuning: Tuning,
}

/// The largest `--max-body-bytes`: 256 MiB.
pub const MAX_BODY_BYTES: usize = 256 << 20;

fn parse_body_bytes(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n > 0 && n <= MAX_BODY_BYTES as i128 => Ok(n as usize),
        _ => Err(format!(
            "must be a number of bytes from 1 to {MAX_BODY_BYTES} (256 MiB)"
        )),
    }
}

/// Resilience tuning; used only with `--resilience on`. The defaults keep a user's wait
/// under about one second: the call timeout bounds connect + request + body.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Resilience tuning (with --resilience on)")]
pub struct Tuning {
    /// Give up connecting to the provider after this long.
    #[arg(long, env = "CONNECT_TIMEOUT_MS", value_name = "MS", default_value = "250",
          allow_negative_numbers = true, value_parser = parse_positive_ms)]
    pub connect_timeout_ms: u64,

    /// Give up on a whole provider call (connect, answer and body) after this long.
    #[arg(long, env = "CALL_TIMEOUT_MS", value_name = "MS", default_value = "800",
          allow_negative_numbers = true, value_parser = parse_positive_ms)]
    pub call_timeout_ms: u64,

    /// Consecutive failed calls that open the circuit.
    #[arg(long, env = "CIRCUIT_FAILURE_THRESHOLD", value_name = "N", default_value = "5",
          allow_negative_numbers = true, value_parser = parse_positive_count)]
    pub circuit_failure_threshold: u32,

    /// How long an open circuit answers with fallbacks before it lets a call through.
    #[arg(long, env = "CIRCUIT_OPEN_MS", value_name = "MS", default_value = "5000",
          allow_negative_numbers = true, value_parser = parse_positive_ms)]
    pub circuit_open_ms: u64,

    /// Most provider calls in flight at once (bulkhead); more get the fallback at once.
    #[arg(long, env = "MAX_CONCURRENT_CALLS", value_name = "N", default_value = "256",
          allow_negative_numbers = true, value_parser = parse_positive_count)]
    pub max_concurrent_calls: u32,

    #[command(flatten)]
    pub retry: RetryArgs,
}

/// The most retries of one provider call.
pub const MAX_RETRIES: u32 = 10;
/// The longest backoff before a retry: ten seconds.
pub const MAX_BACKOFF_MS: u64 = 10_000;
/// The largest retry budget: as many retries as requests (100 %).
pub const MAX_BUDGET_PERCENT: u32 = 100;
/// The largest retry floor: retries per second allowed whatever the ratio.
pub const MAX_BUDGET_FLOOR: u32 = 1000;

/// Retries of a failed provider call (opt-in: `--retries 0`, the default, never
/// retries). Each attempt has the whole call timeout, so retries add to a user's wait.
#[derive(Debug, Clone, clap::Args)]
pub struct RetryArgs {
    /// Retry a failed provider call (connect error, timeout, 5xx, 429, broken answer)
    /// up to this many times (0 to 10).
    #[arg(long, env = "RETRIES", value_name = "N", default_value = "0",
          allow_negative_numbers = true, value_parser = parse_retries)]
    pub retries: u32,

    /// Backoff before the first retry; each later one doubles it, up to
    /// `--retry-backoff-max-ms`. The wait is drawn uniformly from zero to that (full
    /// jitter), so retries of many requests do not arrive together.
    #[arg(long, env = "RETRY_BACKOFF_MS", value_name = "MS", default_value = "50",
          allow_negative_numbers = true, value_parser = parse_backoff_ms)]
    pub retry_backoff_ms: u64,

    /// The longest backoff before a retry (1 to 10000).
    #[arg(long, env = "RETRY_BACKOFF_MAX_MS", value_name = "MS", default_value = "1000",
          allow_negative_numbers = true, value_parser = parse_backoff_ms)]
    pub retry_backoff_max_ms: u64,

    /// The retry budget: retries may be at most this percentage of the requests of the
    /// last second (plus `--retry-budget-floor`), so an outage is not multiplied by
    /// the retries; `none` lets every request retry (naive retries, the retry storm).
    #[arg(long, env = "RETRY_BUDGET", value_name = "PERCENT|none", default_value = "10",
          value_parser = parse_budget)]
    pub retry_budget: RetryBudget,

    /// Retries per second the budget allows whatever the percentage (0 to 1000), so a
    /// quiet consumer can still retry.
    #[arg(long, env = "RETRY_BUDGET_FLOOR", value_name = "N", default_value = "3",
          allow_negative_numbers = true, value_parser = parse_budget_floor)]
    pub retry_budget_floor: u32,
}

impl RetryArgs {
    /// What clap cannot check flag by flag.
    pub fn check(&self) -> Result<(), String> {
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            return Err(format!(
                "--retry-backoff-max-ms ({}) must not be less than --retry-backoff-ms ({})",
                self.retry_backoff_max_ms, self.retry_backoff_ms
            ));
        }
        Ok(())
    }
}

/// How many retries the consumer may send, against the requests it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryBudget {
    /// Every failed call may retry `--retries` times.
    Unlimited,
    /// Retries of the last second at most this percentage of its requests.
    Percent(u32),
}

fn parse_retries(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (0..=i64::from(MAX_RETRIES)).contains(&n) => Ok(n as u32),
        _ => Err(format!("must be a whole number from 0 to {MAX_RETRIES}")),
    }
}

fn parse_backoff_ms(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n > 0 && n as u64 <= MAX_BACKOFF_MS => Ok(n as u64),
        _ => Err(format!(
            "must be a number of milliseconds from 1 to {MAX_BACKOFF_MS}"
        )),
    }
}

fn parse_budget(s: &str) -> Result<RetryBudget, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(RetryBudget::Unlimited);
    }
    match s.trim_end_matches('%').parse::<i64>() {
        Ok(n) if (0..=i64::from(MAX_BUDGET_PERCENT)).contains(&n) => {
            Ok(RetryBudget::Percent(n as u32))
        }
        _ => Err(format!(
            "must be a percentage from 0 to {MAX_BUDGET_PERCENT}, or `none` for no budget"
        )),
    }
}

fn parse_budget_floor(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (0..=i64::from(MAX_BUDGET_FLOOR)).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "must be a whole number of retries per second from 0 to {MAX_BUDGET_FLOOR}"
        )),
    }
}

fn parse_provider_url(s: &str) -> Result<Url, String> {
    match Url::parse(s) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        _ => Err("is not a valid http(s) URL".to_string()),
    }
}

fn parse_positive_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n > 0 && n <= i64::from(u32::MAX) => Ok(n as u32),
        _ => Err("must be a whole number greater than zero".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_url_must_be_http_with_a_host() {
        assert!(parse_provider_url("http://127.0.0.1:8080/").is_ok());
        assert!(parse_provider_url("https://provider.example/").is_ok());
        assert!(parse_provider_url("htp:/x").is_err());
        assert!(parse_provider_url("ftp://host/").is_err());
        assert!(parse_provider_url("not a url").is_err());
    }

    #[test]
    fn body_limits_are_bytes_within_range() {
        assert_eq!(parse_body_bytes("1"), Ok(1));
        assert_eq!(parse_body_bytes("268435456"), Ok(MAX_BODY_BYTES));
        for bad in ["0", "-1", "268435457", "1e6", "lots"] {
            assert!(parse_body_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_settings_are_range_checked() {
        assert_eq!(parse_retries("0"), Ok(0));
        assert_eq!(parse_retries("10"), Ok(10));
        for bad in ["-1", "11", "three"] {
            assert!(parse_retries(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_backoff_ms("10000"), Ok(10_000));
        for bad in ["0", "-5", "10001", "1.5"] {
            assert!(parse_backoff_ms(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_budget("none"), Ok(RetryBudget::Unlimited));
        assert_eq!(parse_budget("10"), Ok(RetryBudget::Percent(10)));
        assert_eq!(parse_budget("25%"), Ok(RetryBudget::Percent(25)));
        for bad in ["-1", "101", "ten", ""] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_budget_floor("0"), Ok(0));
        assert!(parse_budget_floor("1001").is_err());
    }

    #[test]
    fn the_backoff_cap_must_not_be_below_its_start() {
        let cli = Cli::try_parse_from([
            "consumer-app",
            "--retry-backoff-ms",
            "500",
            "--retry-backoff-max-ms",
            "100",
        ])
        .unwrap();
        let err = cli.tuning.retry.check().unwrap_err();
        assert!(err.contains("--retry-backoff-max-ms (100)"), "{err}");
    }

    #[test]
    fn counts_must_be_positive() {
        assert_eq!(parse_positive_count("3"), Ok(3));
        assert!(parse_positive_count("0").is_err());
        assert!(parse_positive_count("-1").is_err());
        assert!(parse_positive_count("many").is_err());
    }
}
