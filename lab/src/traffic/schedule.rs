//! When each request is due: request `i` at `t0 + i / rate`, fixed in advance, so a
//! stalled consumer shows as latency (measured from the due time) and never as fewer
//! requests (no coordinated omission).

use std::time::Duration;

/// A fixed request rate for a bounded time; both checked by [`super::Limits`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Requests per second.
    rate: f64,
    duration: Duration,
}

impl Schedule {
    pub fn new(rate: f64, duration: Duration) -> Schedule {
        Schedule { rate, duration }
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// How many requests the schedule holds: every `i` whose due time is inside the
    /// duration (50/s for 2 s: 100).
    pub fn count(&self) -> u64 {
        let exact = self.rate * self.duration.as_secs_f64();
        // A product that is an integer up to float noise (0.1/s * 30 s) holds that many.
        let rounded = exact.round();
        if (exact - rounded).abs() < 1e-9 {
            rounded as u64
        } else {
            exact.ceil() as u64
        }
    }

    /// The due time of request `i`, from the start. Computed from `i` rather than by
    /// adding periods, so rounding does not drift over a long run.
    pub fn due(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_rate_times_duration() {
        assert_eq!(Schedule::new(50.0, Duration::from_secs(2)).count(), 100);
        assert_eq!(Schedule::new(0.1, Duration::from_secs(30)).count(), 3);
        assert_eq!(Schedule::new(3.0, Duration::from_millis(500)).count(), 2);
        assert_eq!(
            Schedule::new(10_000.0, Duration::from_secs(3600)).count(),
            36_000_000
        );
    }

    #[test]
    fn due_times_are_evenly_spaced_and_inside_the_duration() {
        let duration = Duration::from_secs(2);
        let schedule = Schedule::new(50.0, duration);
        assert_eq!(schedule.due(0), Duration::ZERO);
        assert_eq!(schedule.due(1), Duration::from_millis(20));
        assert_eq!(schedule.due(99), Duration::from_millis(1980));
        assert!(schedule.due(schedule.count() - 1) < duration);
        assert!(schedule.due(schedule.count()) >= duration);
    }
}
