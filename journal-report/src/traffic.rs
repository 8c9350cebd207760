//! The users' traffic during a run: the series file the lab writes (`lab traffic
//! --jsonl`, the dashboard's users, the demo's `traffic-*.jsonl`), one JSON object a
//! line, each a bucket of requests by due time. Read once into [`Traffic`]; the reports
//! draw it on the run's time axis and compare before and after the method.
//!
//! Only the fields drawn are read (`start`, `window_s`, the outcome counts, `p50_ms`,
//! `p99_ms`); others are ignored, so the file may grow fields.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One bucket: the requests due in `[start, start + width_s)`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    #[serde(rename = "window_s")]
    pub width_s: f64,
    pub sent: u64,
    pub ok: u64,
    pub degraded: u64,
    pub failed: u64,
    pub timed_out: u64,
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
}

impl Bucket {
    pub fn finished(&self) -> u64 {
        self.ok + self.degraded + self.failed + self.timed_out
    }
}

/// The users' series, buckets in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Traffic {
    pub buckets: Vec<Bucket>,
}

/// What could not be read, and where.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Counts and latency over a stretch of the series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    pub ok: u64,
    pub degraded: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// The median of the buckets' p50 and the worst bucket's p99 (the file keeps
    /// percentiles per bucket, not each request).
    pub p50_ms: Option<f64>,
    pub worst_p99_ms: Option<f64>,
}

impl Totals {
    pub fn finished(&self) -> u64 {
        self.ok + self.degraded + self.failed + self.timed_out
    }
}

/// How far before a run the users are shown (their steady state before the experiment),
/// when the series goes back that far.
pub const LEAD_S: i64 = 10;

/// What the reports show of the users around one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// From up to [`LEAD_S`] before the run (as far as the series goes) to its end.
    pub span: (DateTime<Utc>, DateTime<Utc>),
    /// When the run started (the journal's start, or its first activity's).
    pub run_start: DateTime<Utc>,
    /// The users' totals over its stretches (label, totals).
    pub rows: Vec<(&'static str, Totals)>,
}

impl Traffic {
    pub fn read(path: &Path) -> Result<Traffic, TrafficError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrafficError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Traffic::from_jsonl(&text).map_err(|(line, message)| TrafficError::Line {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Several series files as one (the runs of a report, each in its own time).
    pub fn read_all(paths: &[PathBuf]) -> Result<Traffic, TrafficError> {
        let mut buckets = Vec::new();
        for path in paths {
            buckets.extend(Traffic::read(path)?.buckets);
        }
        buckets.sort_by_key(|b| b.start);
        Ok(Traffic { buckets })
    }

    /// The series from its JSON lines; an error is (line number, what was wrong).
    pub fn from_jsonl(text: &str) -> Result<Traffic, (usize, String)> {
        let mut buckets = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut de = serde_json::Deserializer::from_str(line);
            let bucket: Bucket = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let field = e.path().to_string();
                let inner = e.into_inner();
                (
                    n + 1,
                    if field == "." {
                        inner.to_string()
                    } else {
                        format!("{field}: {inner}")
                    },
                )
            })?;
            if !bucket.width_s.is_finite() || bucket.width_s <= 0.0 || bucket.width_s > 3600.0 {
                return Err((n + 1, "window_s: not a width in (0, 3600] seconds".into()));
            }
            buckets.push(bucket);
        }
        buckets.sort_by_key(|b| b.start);
        Ok(Traffic { buckets })
    }

    /// The buckets that overlap `[from, to)` (what a chart of that stretch draws).
    pub fn overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter().filter(move |b| {
            let end = b.start + chrono::Duration::microseconds((b.width_s * 1e6) as i64);
            end > from && b.start < to
        })
    }

    /// The buckets starting in `[from, to)` (`None`: no bound).
    pub fn between(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter().filter(move |b| {
            from.is_none_or(|from| b.start >= from) && to.is_none_or(|to| b.start < to)
        })
    }

    /// The run's span (from the journal's or its first activity's start, less up to
    /// [`LEAD_S`] of users before it, to its or its last activity's end) and the users'
    /// totals before the method's first activity (that lead included) and from it to the
    /// end (or over the whole run, without a method).
    pub fn windows(&self, j: &crate::Journal) -> Option<Windows> {
        let starts = j.activities().into_iter().filter_map(|(_, r)| r.start);
        let t0 = j.start.into_iter().chain(starts).min()?;
        let ends = j.activities().into_iter().filter_map(|(_, r)| r.end);
        let t1 = j.end.into_iter().chain(ends).max().unwrap_or(t0);
        let from = self.lead_in(t0);
        let fault = j.method.iter().filter_map(|r| r.start).min();
        let rows = match fault {
            Some(fault) => vec![
                ("before the method", self.totals(Some(from), Some(fault))),
                (
                    "from the method to the end",
                    self.totals(Some(fault), Some(t1)),
                ),
            ],
            None => vec![("the whole run", self.totals(Some(t0), Some(t1)))],
        };
        Some(Windows {
            span: (from, t1),
            run_start: t0,
            rows,
        })
    }

    /// Where the users' stretch leading into `t0` starts: back over buckets that follow
    /// each other without a gap (one series: another run's file is not this run's
    /// users), at most [`LEAD_S`]; `t0` when none reaches it.
    fn lead_in(&self, t0: DateTime<Utc>) -> DateTime<Utc> {
        let slack = chrono::Duration::milliseconds(1);
        let limit = t0 - chrono::Duration::seconds(LEAD_S);
        let mut from = t0;
        for b in self.buckets.iter().rev().filter(|b| b.start < t0) {
            let end = b.start + chrono::Duration::microseconds((b.width_s * 1e6) as i64);
            if end + slack < from || b.start < limit {
                break;
            }
            from = b.start;
        }
        from
    }

    pub fn totals(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Totals {
        let mut totals = Totals::default();
        let mut p50s = Vec::new();
        for b in self.between(from, to) {
            totals.ok += b.ok;
            totals.degraded += b.degraded;
            totals.failed += b.failed;
            totals.timed_out += b.timed_out;
            if let Some(p50) = b.p50_ms.filter(|v| v.is_finite()) {
                p50s.push(p50);
            }
            if let Some(p99) = b.p99_ms.filter(|v| v.is_finite()) {
                totals.worst_p99_ms = Some(totals.worst_p99_ms.map_or(p99, |w: f64| w.max(p99)));
            }
        }
        p50s.sort_by(f64::total_cmp);
        totals.p50_ms = p50s.get(p50s.len() / 2).copied();
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = r#"{"start":"2026-12-06T10:00:00.000Z","offset_s":0.0,"window_s":0.5,"sent":10,"ok":10,"degraded":0,"failed":0,"timed_out":0,"in_flight":0,"error_rate":0.0,"p50_ms":2.0,"p99_ms":4.0,"max_ms":4.0,"degraded_reasons":{},"failure_causes":{}}
{"start":"2026-12-06T10:00:00.500Z","offset_s":0.5,"window_s":0.5,"sent":10,"ok":2,"degraded":0,"failed":7,"timed_out":1,"in_flight":0,"error_rate":0.8,"p50_ms":3.0,"p99_ms":2000.0,"max_ms":2000.0,"degraded_reasons":{},"failure_causes":{"HTTP 500":7}}
"#;

    #[test]
    fn the_lab_series_reads_and_sums_over_a_window() {
        let traffic = Traffic::from_jsonl(LINES).unwrap();
        assert_eq!(traffic.buckets.len(), 2);
        let all = traffic.totals(None, None);
        assert_eq!(
            (all.ok, all.failed, all.timed_out, all.finished()),
            (12, 7, 1, 20)
        );
        assert_eq!(all.worst_p99_ms, Some(2000.0));
        let half: DateTime<Utc> = "2026-12-06T10:00:00.400Z".parse().unwrap();
        assert_eq!(traffic.totals(Some(half), None).ok, 2);
        assert_eq!(traffic.totals(None, Some(half)).ok, 10);
    }

    #[test]
    fn the_lead_in_goes_back_over_one_series_only() {
        let line = |at: &str| {
            format!(
                "{{\"start\":\"2026-12-06T10:00:{at}Z\",\"window_s\":1,\"sent\":1,\"ok\":1,\"degraded\":0,\"failed\":0,\"timed_out\":0}}\n"
            )
        };
        // 00..03 one series; a gap; 05..07 another.
        let text: String = ["00", "01", "02", "05", "06", "07"].map(line).concat();
        let traffic = Traffic::from_jsonl(&text).unwrap();
        let at = |s: &str| {
            format!("2026-12-06T10:00:{s}Z")
                .parse::<DateTime<Utc>>()
                .unwrap()
        };
        assert_eq!(traffic.lead_in(at("07.500")), at("05"));
        assert_eq!(traffic.lead_in(at("02.500")), at("00"));
        // Inside the gap: nothing leads in.
        assert_eq!(traffic.lead_in(at("04.500")), at("04.500"));
    }

    #[test]
    fn a_bad_line_is_named_with_its_number_and_field() {
        let bad = LINES.replace("\"ok\":2,", "\"ok\":\"many\",");
        let (line, message) = Traffic::from_jsonl(&bad).unwrap_err();
        assert_eq!(line, 2);
        assert!(message.starts_with("ok:"), "{message}");
        let (line, _) = Traffic::from_jsonl("{}\n").unwrap_err();
        assert_eq!(line, 1);
        let zero = LINES.replace("\"window_s\":0.5", "\"window_s\":0");
        assert!(
            Traffic::from_jsonl(&zero)
                .unwrap_err()
                .1
                .contains("window_s")
        );
    }
}
