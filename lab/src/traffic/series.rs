//! The traffic as a time series: fixed-width buckets (by due time) of outcome counts and
//! a latency histogram, kept in memory for the other parts (`lab traffic`'s table, the
//! impact endpoint, the demo's summary, later a dashboard) and written as JSON lines.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::classify::{FailureCause, Outcome};

/// Latencies are kept in microseconds with 2 significant digits (1 % error), up to
/// this bound; longer ones are recorded as the bound. With u32 counts (at most 10,000
/// requests a second for an hour: 36 M, well within) a histogram is 12 KiB, so an hour of
/// 1 s buckets holds some 43 MiB.
const MAX_LATENCY_US: u64 = 600_000_000;

fn histogram() -> Histogram<u32> {
    // Valid bounds (low 1, high > 2 * low, 2 digits), so this cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).unwrap_or_else(|_| {
        Histogram::new(2).unwrap_or_else(|_| unreachable!("2 significant digits are valid"))
    })
}

/// One bucket: the requests due in `[index * width, (index + 1) * width)`.
#[derive(Debug, Clone)]
struct Bucket {
    sent: u64,
    ok: u64,
    degraded: u64,
    failed: u64,
    timed_out: u64,
    latency: Histogram<u32>,
    degraded_reasons: BTreeMap<String, u64>,
    failure_causes: BTreeMap<String, u64>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            sent: 0,
            ok: 0,
            degraded: 0,
            failed: 0,
            timed_out: 0,
            latency: histogram(),
            degraded_reasons: BTreeMap::new(),
            failure_causes: BTreeMap::new(),
        }
    }

    fn finished(&self) -> u64 {
        self.ok + self.degraded + self.failed + self.timed_out
    }
}

/// Counts and latency percentiles over a stretch of the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Seconds the stretch covers.
    pub window_s: f64,
    /// Requests due in it (each one was sent, or failed at the concurrency cap).
    pub sent: u64,
    pub ok: u64,
    pub degraded: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Sent but not answered yet.
    pub in_flight: u64,
    /// (failed + timed out) / finished; `None` before any request finished.
    pub error_rate: Option<f64>,
    /// Latency from the due time, of the finished requests; `None` without any.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Fallback reason -> count.
    pub degraded_reasons: BTreeMap<String, u64>,
    /// Failure cause ("HTTP 500", "connect: Connection refused") -> count.
    pub failure_causes: BTreeMap<String, u64>,
}

impl Summary {
    pub fn finished(&self) -> u64 {
        self.ok + self.degraded + self.failed + self.timed_out
    }

    fn of(buckets: &[Bucket], window: Duration) -> Summary {
        let mut latency = histogram();
        let mut summary = Summary {
            window_s: window.as_secs_f64(),
            sent: 0,
            ok: 0,
            degraded: 0,
            failed: 0,
            timed_out: 0,
            in_flight: 0,
            error_rate: None,
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
            degraded_reasons: BTreeMap::new(),
            failure_causes: BTreeMap::new(),
        };
        for bucket in buckets {
            summary.sent += bucket.sent;
            summary.ok += bucket.ok;
            summary.degraded += bucket.degraded;
            summary.failed += bucket.failed;
            summary.timed_out += bucket.timed_out;
            // Same bounds on both sides, so adding cannot fail.
            let _ = latency.add(&bucket.latency);
            for (reason, n) in &bucket.degraded_reasons {
                *summary.degraded_reasons.entry(reason.clone()).or_default() += n;
            }
            for (cause, n) in &bucket.failure_causes {
                *summary.failure_causes.entry(cause.clone()).or_default() += n;
            }
        }
        let finished = summary.finished();
        summary.in_flight = summary.sent.saturating_sub(finished);
        if finished > 0 {
            summary.error_rate =
                Some((summary.failed + summary.timed_out) as f64 / finished as f64);
        }
        if !latency.is_empty() {
            let ms = |us: u64| us as f64 / 1000.0;
            summary.p50_ms = Some(ms(latency.value_at_quantile(0.5)));
            summary.p99_ms = Some(ms(latency.value_at_quantile(0.99)));
            summary.max_ms = Some(ms(latency.max()));
        }
        summary
    }
}

/// One line of the JSON lines file: a settled bucket.
#[derive(Debug, Serialize)]
pub struct BucketLine {
    /// Wall-clock start of the bucket, RFC 3339 UTC with milliseconds.
    pub start: String,
    /// Seconds from the start of the traffic to the start of the bucket.
    pub offset_s: f64,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug)]
struct Inner {
    buckets: Vec<Bucket>,
    /// How far the schedule has got: buckets ending at or before it get no new requests.
    scheduled_until: Duration,
    /// The schedule is over (finished or stopped).
    closed: bool,
    /// How late requests were sent after their due time (the generator's own lag).
    send_lag: Histogram<u32>,
    /// When the last request was sent, from the start.
    last_send: Duration,
    /// Buckets already handed out by [`Series::settled_lines`].
    written: usize,
}

/// The shared series. Cloning gives another handle on the same data.
#[derive(Debug, Clone)]
pub struct Series {
    started_at: SystemTime,
    started: Instant,
    width: Duration,
    inner: Arc<Mutex<Inner>>,
}

impl Series {
    /// A series starting now, with buckets `width` wide (more than zero).
    pub fn new(width: Duration) -> Series {
        Series {
            started_at: SystemTime::now(),
            started: Instant::now(),
            width: width.max(Duration::from_millis(1)),
            inner: Arc::new(Mutex::new(Inner {
                buckets: Vec::new(),
                scheduled_until: Duration::ZERO,
                closed: false,
                send_lag: histogram(),
                last_send: Duration::ZERO,
                written: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves counts, which are still worth reading.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The instant due times count from.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The wall-clock time of [`Series::started`].
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    fn index(&self, offset: Duration) -> usize {
        (offset.as_nanos() / self.width.as_nanos()) as usize
    }

    fn bucket(inner: &mut Inner, index: usize) -> &mut Bucket {
        if inner.buckets.len() <= index {
            inner.buckets.resize_with(index + 1, Bucket::new);
        }
        &mut inner.buckets[index]
    }

    /// A request due at `due` (from the start) was sent `lag` late (or not at all, when it
    /// failed at the cap: it still counts as sent).
    pub fn record_sent(&self, due: Duration, lag: Duration) {
        let index = self.index(due);
        let mut inner = self.lock();
        Self::bucket(&mut inner, index).sent += 1;
        inner.scheduled_until = inner.scheduled_until.max(due);
        inner.last_send = inner.last_send.max(due + lag);
        inner
            .send_lag
            .saturating_record(lag.as_micros().max(1) as u64);
    }

    /// The outcome of the request due at `due`, `latency` after its due time.
    pub fn record(&self, due: Duration, outcome: &Outcome, latency: Duration) {
        let index = self.index(due);
        let mut inner = self.lock();
        let bucket = Self::bucket(&mut inner, index);
        match outcome {
            Outcome::Ok => bucket.ok += 1,
            Outcome::Degraded { reason } => {
                bucket.degraded += 1;
                *bucket.degraded_reasons.entry(reason.clone()).or_default() += 1;
            }
            Outcome::Failed { cause } => {
                bucket.failed += 1;
                *bucket.failure_causes.entry(cause.to_string()).or_default() += 1;
            }
            Outcome::TimedOut => bucket.timed_out += 1,
        }
        // Requests refused at the cap were never sent: no latency to record.
        if !matches!(
            outcome,
            Outcome::Failed {
                cause: FailureCause::ConcurrencyCap
            }
        ) {
            bucket
                .latency
                .saturating_record(latency.as_micros().max(1) as u64);
        }
    }

    /// The schedule is over: no bucket gets new requests.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Everything so far.
    pub fn totals(&self) -> Summary {
        let inner = self.lock();
        Summary::of(&inner.buckets, self.started.elapsed())
    }

    /// The requests due in the last `window` (whole buckets: those overlapping it).
    pub fn last(&self, window: Duration) -> Summary {
        let now = self.started.elapsed();
        let from = self.index(now.saturating_sub(window));
        let inner = self.lock();
        let buckets = inner.buckets.get(from..).unwrap_or_default();
        let covered = now.saturating_sub(self.width * from as u32);
        Summary::of(buckets, covered)
    }

    /// The requests due from wall-clock time `from` until `to` (buckets starting at or
    /// after `from` and before `to`; `None`: to the end).
    pub fn between(&self, from: SystemTime, to: Option<SystemTime>) -> Summary {
        let index_of = |at: SystemTime| {
            let offset = at.duration_since(self.started_at).unwrap_or(Duration::ZERO);
            offset.as_nanos().div_ceil(self.width.as_nanos()) as usize
        };
        let index = index_of(from);
        let inner = self.lock();
        let last = to.map_or(inner.buckets.len(), |to| {
            index_of(to).clamp(index, inner.buckets.len())
        });
        let buckets = inner.buckets.get(index..last).unwrap_or_default();
        let end = match to {
            Some(_) => self.width * last as u32,
            None if inner.closed => inner.last_send.max(self.width * inner.buckets.len() as u32),
            None => self.started.elapsed(),
        };
        Summary::of(buckets, end.saturating_sub(self.width * index as u32))
    }

    /// How late the generator sent requests after their due time: (p99, max).
    pub fn send_lag(&self) -> (Duration, Duration) {
        let inner = self.lock();
        let us = Duration::from_micros;
        (
            us(inner.send_lag.value_at_quantile(0.99)),
            us(inner.send_lag.max()),
        )
    }

    /// When the last request was sent, from the start.
    pub fn last_send(&self) -> Duration {
        self.lock().last_send
    }

    /// The buckets that are complete (no request to come, none in flight) and not handed
    /// out before, in order, as JSON lines' records.
    pub fn settled_lines(&self) -> Vec<BucketLine> {
        let mut inner = self.lock();
        let mut lines = Vec::new();
        while inner.written < inner.buckets.len() {
            let index = inner.written;
            let bucket = &inner.buckets[index];
            let end = self.width * (index as u32 + 1);
            let scheduled = inner.closed || inner.scheduled_until >= end;
            if !scheduled || bucket.finished() < bucket.sent {
                break;
            }
            let offset = self.width * index as u32;
            let start = chrono::DateTime::<chrono::Utc>::from(self.started_at() + offset);
            lines.push(BucketLine {
                start: start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                offset_s: offset.as_secs_f64(),
                summary: Summary::of(std::slice::from_ref(bucket), self.width),
            });
            inner.written += 1;
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn counts_add_up_and_percentiles_come_from_the_latencies() {
        let series = Series::new(Duration::from_secs(1));
        for i in 0..100 {
            series.record_sent(ms(i * 10), Duration::ZERO);
            series.record(ms(i * 10), &Outcome::Ok, ms(i + 1));
        }
        series.record_sent(ms(1000), Duration::ZERO);
        series.record(
            ms(1000),
            &Outcome::Degraded {
                reason: "circuit-open".into(),
            },
            ms(2),
        );
        series.record_sent(ms(1010), Duration::ZERO);
        series.record(
            ms(1010),
            &Outcome::Failed {
                cause: FailureCause::Status(500),
            },
            ms(2),
        );
        series.record_sent(ms(1020), Duration::ZERO);
        series.record_sent(ms(1030), Duration::ZERO);
        series.record(ms(1030), &Outcome::TimedOut, ms(500));
        let totals = series.totals();
        assert_eq!(
            (
                totals.sent,
                totals.ok,
                totals.degraded,
                totals.failed,
                totals.timed_out
            ),
            (104, 100, 1, 1, 1)
        );
        assert_eq!(totals.in_flight, 1);
        assert_eq!(totals.error_rate, Some(2.0 / 103.0));
        let p50 = totals.p50_ms.unwrap();
        assert!((49.0..=53.0).contains(&p50), "{p50}");
        assert_eq!(totals.degraded_reasons["circuit-open"], 1);
        assert_eq!(totals.failure_causes["HTTP 500"], 1);
    }

    #[test]
    fn a_bucket_histogram_stays_small() {
        // The memory note on MAX_LATENCY_US: one histogram's counts.
        let bytes = histogram().distinct_values() * size_of::<u32>();
        assert!(bytes <= 13 * 1024, "{bytes} bytes");
    }

    #[test]
    fn a_request_refused_at_the_cap_is_counted_without_a_latency() {
        let series = Series::new(Duration::from_secs(1));
        series.record_sent(ms(0), Duration::ZERO);
        series.record(
            ms(0),
            &Outcome::Failed {
                cause: FailureCause::ConcurrencyCap,
            },
            Duration::ZERO,
        );
        let totals = series.totals();
        assert_eq!((totals.sent, totals.failed), (1, 1));
        assert_eq!(totals.p50_ms, None);
        assert_eq!(totals.failure_causes["concurrency cap"], 1);
    }

    #[test]
    fn only_complete_buckets_are_written_once_in_order() {
        let series = Series::new(Duration::from_millis(100));
        series.record_sent(ms(10), Duration::ZERO);
        series.record_sent(ms(150), Duration::ZERO);
        // Bucket 0 is scheduled (the schedule reached 150 ms) but its request is in flight.
        assert!(series.settled_lines().is_empty());
        series.record(ms(10), &Outcome::Ok, ms(5));
        let lines = series.settled_lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].offset_s, 0.0);
        assert_eq!(lines[0].summary.ok, 1);
        series.record(ms(150), &Outcome::Ok, ms(5));
        // Bucket 1 may still get requests until the schedule passes 200 ms or closes.
        assert!(series.settled_lines().is_empty());
        series.close();
        let lines = series.settled_lines();
        assert_eq!(lines.len(), 1);
        assert!((lines[0].offset_s - 0.1).abs() < 1e-9);
        let json = serde_json::to_string(&lines[0]).unwrap();
        assert!(json.starts_with("{\"start\":\""), "{json}");
        assert!(json.contains("\"sent\":1,\"ok\":1"), "{json}");
        assert!(series.settled_lines().is_empty());
    }

    #[test]
    fn between_takes_the_buckets_of_a_wall_clock_window() {
        let series = Series::new(Duration::from_millis(100));
        for i in 0..10 {
            series.record_sent(ms(i * 100), Duration::ZERO);
            let outcome = if i < 5 {
                Outcome::Ok
            } else {
                Outcome::Failed {
                    cause: FailureCause::Status(500),
                }
            };
            series.record(ms(i * 100), &outcome, ms(1));
        }
        series.close();
        let after = series.between(series.started_at() + ms(450), None);
        assert_eq!((after.sent, after.ok, after.failed), (5, 0, 5));
        let all = series.between(series.started_at() - ms(1000), None);
        assert_eq!(all.sent, 10);
        // A window that ends: buckets before `to` only (a fault removed by its rollback).
        let window = series.between(
            series.started_at() + ms(250),
            Some(series.started_at() + ms(750)),
        );
        assert_eq!((window.sent, window.ok, window.failed), (5, 2, 3));
        let empty = series.between(
            series.started_at() + ms(750),
            Some(series.started_at() + ms(250)),
        );
        assert_eq!(
            empty.sent, 0,
            "a window that ends before it starts is empty"
        );
    }
}
