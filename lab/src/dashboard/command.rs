//! `lab dashboard`: the dashboard against the running lab (any target), with users'
//! traffic of its own so there is something to see, until Ctrl-C or `--duration`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use super::{Dashboard, Sampler, Server};
use crate::interrupt::Started;
use crate::state::StateDir;
use crate::targets::{Target, TargetKind};
use crate::traffic::{Config, Schedule, Traffic, limits};
use crate::ui;

/// Where the dashboard listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8083";

/// Requests per second, or 0 for none.
fn rate_or_none(text: &str) -> Result<f64, String> {
    if text.trim().parse::<f64>() == Ok(0.0) {
        Ok(0.0)
    } else {
        limits::rate(text).map_err(|e| format!("{e}; 0 sends none"))
    }
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The loopback address to serve the page on (port 0 picks a free one)
    #[arg(long, value_name = "IP:PORT", default_value = DEFAULT_ADDR, value_parser = limits::loopback)]
    pub addr: SocketAddr,
    /// Users' requests per second sent to the consumer while it runs (0: none, at most
    /// 10000)
    #[arg(long, value_name = "N", default_value = "20", value_parser = rate_or_none)]
    pub rate: f64,
    /// Stop after this many seconds (at most 3600) [default: at Ctrl-C]
    #[arg(long, value_name = "SECONDS", value_parser = limits::duration)]
    pub duration: Option<Duration>,
}

/// The pieces of a dashboard that run while it is served.
pub struct Live {
    pub dashboard: Dashboard,
    pub server: Server,
    _sampler: Sampler,
}

/// Serves a dashboard on `addr` and samples the lab through a target of `kind`.
pub fn serve(
    addr: SocketAddr,
    kind: TargetKind,
    states: &StateDir,
    namespace: Option<String>,
    started: &Started,
) -> Result<Live> {
    let dashboard = Dashboard::new();
    let server = Server::start(addr, dashboard.clone())?;
    let (states, started) = (states.clone(), started.clone());
    let sampler = Sampler::start(dashboard.clone(), move || {
        crate::targets::open(kind, states, namespace, started)
    })?;
    Ok(Live {
        dashboard,
        server,
        _sampler: sampler,
    })
}

pub fn run(
    target: &dyn Target,
    kind: TargetKind,
    states: &StateDir,
    namespace: Option<String>,
    started: &Started,
    args: &DashboardArgs,
) -> Result<ExitCode> {
    if target.status()?.is_none() {
        anyhow::bail!(
            "no lab is running (no state in {}); start one with `lab up`",
            states.root().display()
        );
    }
    let url = target.consumer_url()?;
    let live = serve(args.addr, kind, states, namespace, started)?;
    let traffic = if args.rate > 0.0 {
        Some(Traffic::start(Config {
            url: url.clone(),
            schedule: Schedule::new(args.rate, args.duration.unwrap_or(limits::MAX_DURATION)),
            concurrency: 1000,
            timeout: Duration::from_secs(2),
            bucket: Duration::from_millis(250),
            jsonl: None,
        })?)
    } else {
        None
    };
    live.dashboard
        .begin_run("live", traffic.as_ref().map(|t| t.series().clone()));
    if args.rate > 0.0 {
        ui::info(format!("{} users' requests a second to {url}", args.rate));
    }
    ui::info("the dashboard (Ctrl-C stops it):");
    println!("{}", live.server.url());
    let deadline = args.duration.map(|d| Instant::now() + d);
    loop {
        if crate::interrupt::check().is_err() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(traffic) = traffic {
        traffic.stop_within(Duration::from_secs(2))?;
    }
    Ok(ExitCode::SUCCESS)
}
