//! Numbers from experiments and flags that become durations (pauses, timeouts, the
//! continuous hypothesis's interval): checked once, with one limit and one message, so
//! no value can overflow a timer (`Duration::from_secs_f64` panics beyond ~1.8e19 s,
//! `Instant + Duration` far earlier).

use std::time::Duration;

use serde_json::Value;

/// The longest pause, timeout or interval accepted: 30 days. Anything longer is a
/// mistake in an experiment, and far from any overflow.
pub const MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// Why `seconds` cannot be a duration, if it cannot.
pub fn check(seconds: f64) -> Result<(), String> {
    if !seconds.is_finite() {
        Err(format!("must be a finite number of seconds, got {seconds}"))
    } else if seconds < 0.0 {
        Err(format!("must not be negative, got {seconds}"))
    } else if seconds > MAX_SECONDS {
        Err(format!(
            "must be at most {MAX_SECONDS} seconds (30 days), got {seconds}"
        ))
    } else {
        Ok(())
    }
}

/// The validation problem of a written timeout (`what` names it: "a process timeout"),
/// if it has one: not a number, or a number out of range.
pub fn problem(value: &Value, what: &str) -> Option<String> {
    match value.as_f64() {
        None => Some(format!("{what} must be a number")),
        Some(seconds) => check(seconds).err().map(|why| format!("{what} {why}")),
    }
}

/// `seconds` as a [`Duration`], range-checked.
pub fn from_seconds(seconds: f64) -> Result<Duration, String> {
    check(seconds)?;
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finite_non_negative_values_up_to_the_limit_pass() {
        assert_eq!(from_seconds(1.5), Ok(Duration::from_millis(1500)));
        assert_eq!(from_seconds(0.0), Ok(Duration::ZERO));
        assert!(from_seconds(MAX_SECONDS).is_ok());
        for bad in [
            -1.0,
            1e19,
            1e300,
            f64::INFINITY,
            f64::NAN,
            MAX_SECONDS + 1.0,
        ] {
            assert!(from_seconds(bad).is_err(), "{bad}");
        }
        assert!(check(1e300).unwrap_err().contains("at most"));
    }
}
