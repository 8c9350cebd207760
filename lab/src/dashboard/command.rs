//! `lab dashboard`: the dashboard against the running lab (any target), with users'
//! traffic of its own so there is something to see, until Ctrl-C or `--duration`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use super::controls::{Controls, Handle, Setup};
use super::experiments::Catalogue;
use super::{Dashboard, Sampler, Server};
use crate::interrupt::Started;
use crate::state::StateDir;
use crate::targets::{Target, TargetKind};
use crate::traffic::limits;
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
    /// Users' requests per second sent to the consumer from the start, at most 10000 (0:
    /// none until the page's Start users, which then sends 20)
    #[arg(long, value_name = "N", default_value = "20", value_parser = rate_or_none)]
    pub rate: f64,
    /// Stop after this many seconds (at most 3600) [default: at Ctrl-C]
    #[arg(long, value_name = "SECONDS", value_parser = limits::duration)]
    pub duration: Option<Duration>,
    /// The experiments the page offers: every *.json in this folder [default: the ones
    /// the lab ships for the local target]
    #[arg(long, value_name = "DIR")]
    pub experiments: Option<std::path::PathBuf>,
}

/// The pieces of a dashboard that run while it is served (dropped in this order: the
/// server first, so the controls' worker sees its last sender go).
pub struct Live {
    pub dashboard: Dashboard,
    pub server: Server,
    _controls: Option<Controls>,
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
    let server = Server::start(addr, dashboard.clone(), Handle::none(dashboard.clone()))?;
    let (states, started) = (states.clone(), started.clone());
    let sampler = Sampler::start(dashboard.clone(), move || {
        crate::targets::open(kind, states, namespace, started)
    })?;
    Ok(Live {
        dashboard,
        server,
        _controls: None,
        _sampler: sampler,
    })
}

/// As [`serve`], with the presenter's controls (`lab dashboard`); the users start at
/// once when `setup.start_users`.
pub fn serve_with_controls(addr: SocketAddr, setup: Setup) -> Result<Live> {
    let dashboard = Dashboard::new();
    dashboard.begin_run("live", None);
    let (kind, states, namespace, started) = (
        setup.kind,
        setup.states.clone(),
        setup.namespace.clone(),
        setup.started.clone(),
    );
    let controls = Controls::start(dashboard.clone(), setup)?;
    let server = Server::start(addr, dashboard.clone(), controls.handle())?;
    let sampler = Sampler::start(dashboard.clone(), move || {
        crate::targets::open(kind, states, namespace, started)
    })?;
    Ok(Live {
        dashboard,
        server,
        _controls: Some(controls),
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
    let catalogue = match &args.experiments {
        Some(dir) => Catalogue::from_dir(dir).map_err(|e| e.context("--experiments"))?,
        None => Catalogue::shipped(),
    };
    let live = serve_with_controls(
        args.addr,
        Setup {
            kind,
            states: states.clone(),
            namespace,
            started: started.clone(),
            rate: if args.rate > 0.0 { args.rate } else { 20.0 },
            start_users: args.rate > 0.0,
            catalogue,
        },
    )?;
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
    drop(live);
    Ok(ExitCode::SUCCESS)
}
