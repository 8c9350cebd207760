//! What the dashboard shows, sampled every [`super::TICK`]: per run, the users' traffic
//! (requests per second by outcome, latency percentiles over the last second), the
//! consumer's circuit and the provider's up/down, and the experiment's events.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::traffic::Series;

/// The window each point's rates and percentiles cover.
const WINDOW: Duration = Duration::from_secs(1);
/// Points kept per run (an hour at 4 a second): older ones are dropped.
const MAX_POINTS: usize = 14_400;
const MAX_EVENTS: usize = 1_000;

/// The provider as the lab sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Up,
    Down,
    Unknown,
}

/// What the target said about the services at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub provider: Provider,
    /// The consumer's circuit (`closed`, `open`, `half_open`, `disabled`); `None` when
    /// the consumer did not answer.
    pub circuit: Option<String>,
    /// The fault proxy's active toxics (and disabled proxies), one label each; empty
    /// without a proxy.
    pub faults: Vec<String>,
    /// The consumer's own health (it answers its readiness endpoint) and mode.
    pub consumer: Provider,
    pub mode: Option<String>,
    /// The fault proxy's health; `None` when the lab has no proxy.
    pub proxy: Option<Provider>,
    /// What the status says of the provider and the consumer beyond up/down: the process
    /// (local) or the Deployment (Kubernetes), the port, why it is not ready.
    pub provider_note: Option<String>,
    pub consumer_note: Option<String>,
}

/// One sample of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Seconds since the run began.
    pub t: f64,
    /// Requests per second over the last second, by outcome.
    pub ok: f64,
    pub degraded: f64,
    pub failed: f64,
    pub timed_out: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub circuit: Option<String>,
    pub provider: Provider,
    /// Faults on the wire at this moment (the fault proxy's active toxics).
    pub faults: Vec<String>,
    /// The consumer's health and mode (`before`, `after`), the fault proxy's health
    /// (`None`: the lab has none): what the system picture draws.
    pub consumer: Provider,
    pub mode: Option<String>,
    pub proxy: Option<Provider>,
    pub provider_note: Option<String>,
    pub consumer_note: Option<String>,
}

/// The kinds of marker on the time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A probe of the hypothesis, or its verdict (`verdict` says which).
    Check,
    Action,
    Pause,
    Rollback,
    /// The experiment's end, with its status as the verdict.
    End,
    /// Seen by the sampler: the circuit, the provider or a fault on the wire changed.
    Change,
    /// A presenter's control on the page (kill, fix, a fault, the users...): asked, then
    /// done or failed (the verdict).
    Control,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub t: f64,
    pub kind: EventKind,
    pub text: String,
    /// `met`, `not met`, or the experiment's status; `None` for other kinds.
    pub verdict: Option<String>,
}

/// The message of a runner's log line, `[2026-12-02 02:28:16 INFO] Probe: x` -> the
/// event it is, if it is one the dashboard marks.
pub fn parse_runner_line(line: &str) -> Option<(EventKind, String, Option<String>)> {
    let message = line.split_once("] ").map_or(line, |(_, rest)| rest).trim();
    let owned = || message.to_string();
    if message.starts_with("Probe: ") {
        Some((EventKind::Check, owned(), None))
    } else if message.starts_with("Steady state hypothesis is met") {
        Some((EventKind::Check, owned(), Some("met".into())))
    } else if message.starts_with("Steady state probe")
        && (message.contains("is not in the given tolerance")
            || message.contains("not in the given tolerance"))
        || message.contains("hypothesis is not met")
    {
        Some((EventKind::Check, owned(), Some("not met".into())))
    } else if message.starts_with("Action: ") {
        Some((EventKind::Action, owned(), None))
    } else if message.starts_with("Pausing ") {
        Some((EventKind::Pause, owned(), None))
    } else if message.starts_with("Rollback: ") {
        Some((EventKind::Rollback, owned(), None))
    } else {
        message
            .strip_prefix("Experiment ended with status: ")
            .map(|status| (EventKind::End, owned(), Some(status.trim().to_string())))
    }
}

/// One run on the dashboard: its traffic, its samples and its events.
#[derive(Debug)]
pub struct Run {
    pub label: String,
    pub began: Instant,
    /// The users' traffic of this run (`None`: no traffic, only the services).
    pub series: Option<Series>,
    pub points: Vec<Point>,
    pub events: Vec<Event>,
    /// Set when the run is over: it is no longer sampled.
    pub ended: bool,
}

impl Run {
    pub fn new(label: &str, series: Option<Series>) -> Run {
        Run {
            label: label.to_string(),
            began: Instant::now(),
            series,
            points: Vec::new(),
            events: Vec::new(),
            ended: false,
        }
    }

    fn now(&self) -> f64 {
        self.began.elapsed().as_secs_f64()
    }

    pub fn push_event(&mut self, kind: EventKind, text: String, verdict: Option<String>) {
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(0);
        }
        let t = self.now();
        self.events.push(Event {
            t,
            kind,
            text,
            verdict,
        });
    }

    /// Adds a point from the traffic and `services`; a change of circuit or provider
    /// becomes an event too.
    pub fn sample(&mut self, services: &Services) {
        let t = self.now();
        let mut point = Point {
            t,
            ok: 0.0,
            degraded: 0.0,
            failed: 0.0,
            timed_out: 0.0,
            p50_ms: None,
            p99_ms: None,
            circuit: services.circuit.clone(),
            provider: services.provider,
            faults: services.faults.clone(),
            consumer: services.consumer,
            mode: services.mode.clone(),
            proxy: services.proxy,
            provider_note: services.provider_note.clone(),
            consumer_note: services.consumer_note.clone(),
        };
        if let Some(series) = &self.series {
            let s = series.last(WINDOW);
            // Not less than half the window: the first samples of a run would otherwise
            // divide a request or two by a few milliseconds.
            let per_s = |n: u64| n as f64 / s.window_s.max(WINDOW.as_secs_f64() / 2.0);
            point.ok = per_s(s.ok);
            point.degraded = per_s(s.degraded);
            point.failed = per_s(s.failed);
            point.timed_out = per_s(s.timed_out);
            point.p50_ms = s.p50_ms;
            point.p99_ms = s.p99_ms;
        }
        if let Some(last) = self.points.last().cloned() {
            if last.provider != point.provider {
                self.push_event(
                    EventKind::Change,
                    format!("provider {}", provider_word(point.provider)),
                    None,
                );
            }
            if last.circuit != point.circuit {
                self.push_event(
                    EventKind::Change,
                    format!("circuit {}", point.circuit.as_deref().unwrap_or("unknown")),
                    None,
                );
            }
            for fault in point.faults.iter().filter(|f| !last.faults.contains(f)) {
                self.push_event(EventKind::Change, format!("fault on: {fault}"), None);
            }
            for fault in last.faults.iter().filter(|f| !point.faults.contains(f)) {
                self.push_event(EventKind::Change, format!("fault off: {fault}"), None);
            }
        }
        if self.points.len() >= MAX_POINTS {
            self.points.remove(0);
        }
        self.points.push(point);
    }
}

pub fn provider_word(provider: Provider) -> &'static str {
    match provider {
        Provider::Up => "up",
        Provider::Down => "down",
        Provider::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_lines_become_events() {
        let kind = |line: &str| parse_runner_line(line).map(|(k, _, v)| (k, v));
        assert_eq!(
            kind("[2026-12-02 02:28:16 INFO] Probe: consumer-service-must-still-respond"),
            Some((EventKind::Check, None))
        );
        assert_eq!(
            kind("[2026-12-02 02:28:16 INFO] Steady state hypothesis is met!"),
            Some((EventKind::Check, Some("met".into())))
        );
        assert_eq!(
            kind("[2026-12-02 02:28:16 INFO] Action: terminate-provider"),
            Some((EventKind::Action, None))
        );
        assert_eq!(
            kind("[x INFO] Pausing after activity for 2s..."),
            Some((EventKind::Pause, None))
        );
        assert_eq!(
            kind("[x INFO] Rollback: bring-back"),
            Some((EventKind::Rollback, None))
        );
        assert_eq!(
            kind("[x INFO] Experiment ended with status: deviated"),
            Some((EventKind::End, Some("deviated".into())))
        );
        assert_eq!(kind("[x INFO] Running experiment: y"), None);
        assert_eq!(kind(""), None);
    }

    #[test]
    fn a_change_of_circuit_or_provider_is_an_event() {
        let mut run = Run::new("t", None);
        let up = Services {
            provider: Provider::Up,
            circuit: Some("closed".into()),
            faults: Vec::new(),
            consumer: Provider::Up,
            mode: Some("after".into()),
            proxy: None,
            provider_note: None,
            consumer_note: None,
        };
        run.sample(&up);
        run.sample(&up);
        assert!(run.events.is_empty());
        run.sample(&Services {
            provider: Provider::Down,
            circuit: Some("open".into()),
            ..up.clone()
        });
        let texts: Vec<&str> = run.events.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["provider down", "circuit open"]);
        let slow = || Services {
            faults: vec!["provider: slow".into()],
            ..up.clone()
        };
        run.sample(&slow());
        run.sample(&slow());
        run.sample(&up);
        let texts: Vec<&str> = run.events.iter().skip(2).map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "provider up",
                "circuit closed",
                "fault on: provider: slow",
                "fault off: provider: slow"
            ]
        );
    }
}
