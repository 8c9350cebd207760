//! `lab traffic`: users' requests against the running lab's consumer, a progress bar on a
//! terminal, the impact endpoint with `--serve`, and a table of what the users got.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tabled::builder::Builder;
use tabled::settings::Style;

use super::{Config, ImpactServer, Schedule, Series, Summary, Traffic, limits};
use crate::state::StateDir;
use crate::targets::Target;
use crate::ui;

/// Where `--serve` listens when given no address.
pub const DEFAULT_SERVE: &str = "127.0.0.1:8082";

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Requests per second (at least 0.01, at most 10000)
    #[arg(long, value_name = "N", default_value = "50", value_parser = limits::rate)]
    pub rate: f64,
    /// Seconds of traffic (at least 0.1, at most 3600)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = limits::duration)]
    pub duration: Duration,
    /// Requests in flight at most (1 to 10000); one due while that many are in flight
    /// is not sent and counts as failed ("concurrency cap")
    #[arg(long, value_name = "N", default_value = "1000", value_parser = limits::concurrency)]
    pub concurrency: u32,
    /// Seconds one request may take before it counts as timed out (at least 0.01, at
    /// most 60)
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = limits::timeout)]
    pub timeout: Duration,
    /// While the traffic runs, serve the users' impact (`/users/impact`, `/users/ok`) on
    /// this loopback address [default when given alone: 127.0.0.1:8082]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_SERVE,
          value_parser = limits::loopback)]
    pub serve: Option<SocketAddr>,
    /// The time series as JSON lines, one per settled second [default: traffic.jsonl in
    /// the state directory]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs the traffic to its end (or Ctrl-C) and prints the users' view.
pub fn run(target: &dyn Target, states: &StateDir, args: &TrafficArgs) -> Result<ExitCode> {
    let url = target.consumer_url()?;
    let jsonl = args
        .out
        .clone()
        .unwrap_or_else(|| states.root().join("traffic.jsonl"));
    let schedule = Schedule::new(args.rate, args.duration);
    let traffic = Traffic::start(Config {
        url: url.clone(),
        schedule,
        concurrency: args.concurrency,
        timeout: args.timeout,
        bucket: Duration::from_secs(1),
        jsonl: Some(jsonl.clone()),
    })?;
    let _server = match args.serve {
        Some(addr) => {
            let server = ImpactServer::start(addr, traffic.series().clone())?;
            let addr_file = addr_file(states);
            if let Some(dir) = addr_file.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            atomic_file::write(&addr_file, format!("{}\n", server.addr()).as_bytes())?;
            ui::info(format!(
                "the users' impact: http://{}/users/impact (and /users/ok)",
                server.addr()
            ));
            Some(server)
        }
        None => None,
    };
    ui::info(format!(
        "{} requests to {url}: {} per second for {} s",
        schedule.count(),
        args.rate,
        args.duration.as_secs_f64()
    ));
    let bar = progress(schedule.count());
    let mut interrupted = false;
    while !traffic.is_finished() {
        if crate::interrupt::check().is_err() {
            interrupted = true;
            break;
        }
        if let Some(bar) = &bar {
            let totals = traffic.series().totals();
            bar.set_position(totals.sent);
            bar.set_message(short_counts(&totals));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let series = if interrupted {
        traffic.stop_within(Duration::from_secs(2))?
    } else {
        traffic.stop()?
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("{}", table(&series, args.rate));
    ui::info(format!("the time series is in {}", jsonl.display()));
    if interrupted {
        return Err(crate::interrupt::Interrupted.into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `lab traffic --serve` writes the address it serves on (`IP:PORT`).
pub fn addr_file(states: &StateDir) -> PathBuf {
    states.root().join("run").join("traffic.addr")
}

fn progress(count: u64) -> Option<indicatif::ProgressBar> {
    if !console::Term::stderr().is_term() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(count);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30.cyan} {pos}/{len} {msg} {elapsed:.dim}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn short_counts(s: &Summary) -> String {
    format!(
        "ok {} degraded {} failed {} timed out {}",
        s.ok, s.degraded, s.failed, s.timed_out
    )
}

/// "12 ms", "1.2 s", or "-" without a value.
pub fn millis(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(ms) if ms < 1000.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{:.2} s", ms / 1000.0),
    }
}

/// `reason 3, other 1` for a count map.
pub fn breakdown(counts: &std::collections::BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The final table: what was sent and what the users got.
pub fn table(series: &Series, requested_rate: f64) -> String {
    let totals = series.totals();
    let sending = series.last_send().max(Duration::from_millis(1));
    // n requests due over (n - 1) periods: the rate the sends actually kept.
    let achieved = if totals.sent > 1 {
        (totals.sent - 1) as f64 / sending.as_secs_f64()
    } else {
        requested_rate
    };
    let (lag_p99, lag_max) = series.send_lag();
    let with = |n: u64, detail: String| {
        if detail.is_empty() {
            n.to_string()
        } else {
            format!("{n} ({detail})")
        }
    };
    let mut builder = Builder::new();
    builder.push_record(["sent".to_string(), totals.sent.to_string()]);
    builder.push_record(["ok".to_string(), totals.ok.to_string()]);
    builder.push_record([
        "degraded".to_string(),
        with(totals.degraded, breakdown(&totals.degraded_reasons)),
    ]);
    builder.push_record([
        "failed".to_string(),
        with(totals.failed, breakdown(&totals.failure_causes)),
    ]);
    builder.push_record(["timed out".to_string(), totals.timed_out.to_string()]);
    if totals.in_flight > 0 {
        builder.push_record(["still in flight".to_string(), totals.in_flight.to_string()]);
    }
    builder.push_record(["latency p50".to_string(), millis(totals.p50_ms)]);
    builder.push_record(["latency p99".to_string(), millis(totals.p99_ms)]);
    builder.push_record([
        "rate (requested, achieved)".to_string(),
        format!("{requested_rate}/s, {achieved:.1}/s"),
    ]);
    builder.push_record([
        "send lag p99, max".to_string(),
        format!(
            "{}, {}",
            millis(Some(lag_p99.as_secs_f64() * 1000.0)),
            millis(Some(lag_max.as_secs_f64() * 1000.0))
        ),
    ]);
    let mut table = builder.build();
    table.with(Style::rounded());
    table.to_string()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn traffic(args: &[&str]) -> super::TrafficArgs {
        let cli = Cli::try_parse_from([&["lab", "traffic"], args].concat()).unwrap();
        let Command::Traffic(args) = cli.command else {
            panic!("not traffic")
        };
        args
    }

    #[test]
    fn defaults_and_serve_without_an_address() {
        let args = traffic(&[]);
        assert_eq!(args.rate, 50.0);
        assert_eq!(args.duration, std::time::Duration::from_secs(10));
        assert_eq!((args.concurrency, args.serve), (1000, None));
        assert_eq!(args.timeout, std::time::Duration::from_secs(2));
        let args = traffic(&["--serve", "--rate", "5"]);
        assert_eq!(args.serve, Some(super::DEFAULT_SERVE.parse().unwrap()));
        assert_eq!(args.rate, 5.0);
        let args = traffic(&["--serve", "127.0.0.1:0"]);
        assert_eq!(args.serve.unwrap().port(), 0);
    }

    #[test]
    fn out_of_range_flags_are_named() {
        let err = Cli::try_parse_from(["lab", "traffic", "--timeout", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--timeout"), "{err}");
        assert!(err.contains("at least 0.01 s"), "{err}");
    }
}
