//! The live dashboard (`lab dashboard`, `lab demo --dashboard`): a page on 127.0.0.1
//! showing, per run on one time axis, the users' requests by outcome, latency, the
//! provider's up/down, the consumer's circuit and the experiment's events.
//!
//! `sample` is the data (sampled every [`TICK`]), `chart` draws a run as SVG on the
//! server, `page` the HTML around it, `command` the `lab dashboard` command. This file
//! holds the shared state ([`Dashboard`]), the sampler and the server:
//!
//! - `GET /` -> the page (complete without script: the runs as of the request);
//! - `GET /events` -> `text/event-stream`, an `event: state` every [`PUSH`] whose data is
//!   the JSON of `GET /state.json` (see docs/contracts.md);
//! - `GET /state.json` -> the same JSON once.

mod chart;
pub mod command;
mod page;
mod sample;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::service::Service;
use crate::targets::{ServiceStatus, Target};
use crate::traffic::Series;
pub use sample::{Provider, Services};
use sample::{Run, parse_runner_line};

/// How often the services and the traffic are sampled.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the page is sent the state (the issue asks for at least once a second).
pub const PUSH: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Shared {
    runs: Mutex<Vec<Run>>,
    samples: AtomicU64,
}

/// The runs shown, shared by the sampler, the server and whoever feeds events.
#[derive(Clone, Default)]
pub struct Dashboard {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    pub fn new() -> Dashboard {
        Dashboard::default()
    }

    fn runs(&self) -> MutexGuard<'_, Vec<Run>> {
        // A panic while holding the lock leaves runs that are still worth showing.
        self.shared
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a new run (the previous one ends and stays on the page beside it).
    pub fn begin_run(&self, label: &str, series: Option<Series>) {
        let mut runs = self.runs();
        if let Some(last) = runs.last_mut() {
            last.ended = true;
        }
        runs.push(Run::new(label, series));
    }

    /// The current run is over: it keeps its data but is no longer sampled.
    pub fn end_run(&self) {
        if let Some(last) = self.runs().last_mut() {
            last.ended = true;
        }
    }

    /// One line of the experiment runner's output: an event if it is one.
    pub fn runner_line(&self, line: &str) {
        if let Some((kind, text, verdict)) = parse_runner_line(line)
            && let Some(run) = self.runs().last_mut().filter(|r| !r.ended)
        {
            run.push_event(kind, text, verdict);
        }
    }

    fn sample(&self, services: &Services) {
        if let Some(run) = self.runs().last_mut().filter(|r| !r.ended) {
            run.sample(services);
            self.shared.samples.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// What `/state.json` and each SSE event carry.
    pub fn state(&self) -> Value {
        let runs = self.runs();
        let at_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        json!({
            "seq": self.shared.samples.load(Ordering::SeqCst),
            "at_ms": at_ms,
            "runs": runs.iter().map(|run| json!({
                "label": run.label,
                "ended": run.ended,
                "latest": run.points.last(),
                "points": run.points.len(),
                "events": run.events,
            })).collect::<Vec<_>>(),
            "html": page::runs_html(&runs),
        })
    }

    fn page(&self) -> String {
        page::page(&self.runs())
    }
}

/// What the target's status says about the provider and the circuit.
pub fn services_of(status: Result<Option<Vec<ServiceStatus>>>) -> Services {
    match status {
        Ok(Some(rows)) => Services {
            // A killed provider is not listed: down, like one that exited.
            provider: match rows.iter().find(|r| r.service == Service::Provider) {
                Some(row) if row.health.is_ready() => Provider::Up,
                _ => Provider::Down,
            },
            circuit: rows
                .iter()
                .find(|r| r.service == Service::Consumer)
                .and_then(|r| r.circuit.clone()),
        },
        Ok(None) => Services {
            provider: Provider::Down,
            circuit: None,
        },
        Err(err) => {
            tracing::debug!("dashboard: no status: {err:#}");
            Services {
                provider: Provider::Unknown,
                circuit: None,
            }
        }
    }
}

/// Samples the services (through a target of its own, opened in its thread) and the
/// current run's traffic every [`TICK`] until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn start(
        dashboard: Dashboard,
        open: impl FnOnce() -> Result<Box<dyn Target>> + Send + 'static,
    ) -> Result<Sampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("dashboard-sampler".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    let target = match open() {
                        Ok(target) => Some(target),
                        Err(err) => {
                            tracing::warn!("dashboard: cannot open the target: {err:#}");
                            None
                        }
                    };
                    // Waits in short steps, so a new run gets its first point at once.
                    let mut runs_seen = 0;
                    let mut last = std::time::Instant::now() - TICK;
                    while !stop.load(Ordering::SeqCst) {
                        let runs = dashboard.runs().len();
                        if runs == runs_seen && last.elapsed() < TICK {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        runs_seen = runs;
                        last = std::time::Instant::now();
                        let services = match &target {
                            Some(target) => services_of(target.status()),
                            None => services_of(Err(anyhow::anyhow!("no target"))),
                        };
                        dashboard.sample(&services);
                    }
                }
            })
            .context("cannot start the dashboard's sampler")?;
        Ok(Sampler {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The page's server on a loopback address, serving until dropped.
pub struct Server {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(addr: SocketAddr, dashboard: Dashboard) -> Result<Server> {
        if !addr.ip().is_loopback() {
            bail!("the dashboard serves on a loopback address only, not {addr}");
        }
        let server = tiny_http::Server::http(addr)
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("cannot serve the dashboard on {addr}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .context("the dashboard has no IP address")?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn({
                let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
                move || {
                    for request in server.incoming_requests() {
                        answer(request, &dashboard, &stop);
                    }
                }
            })
            .context("cannot start the dashboard's thread")?;
        Ok(Server {
            server,
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(request: tiny_http::Request, status: u16, content_type: &str, body: String) {
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    if let Ok(header) = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
    {
        response.add_header(header);
    }
    if let Err(err) = request.respond(response) {
        tracing::debug!(%err, "a dashboard answer was not delivered");
    }
}

fn answer(request: tiny_http::Request, dashboard: &Dashboard, stop: &Arc<AtomicBool>) {
    if *request.method() != tiny_http::Method::Get {
        return respond(request, 405, "text/plain", "only GET is served\n".into());
    }
    let path = request.url().split('?').next().unwrap_or("").to_string();
    match path.as_str() {
        "/" => respond(request, 200, "text/html; charset=utf-8", dashboard.page()),
        "/state.json" => respond(
            request,
            200,
            "application/json",
            dashboard.state().to_string() + "\n",
        ),
        "/events" => {
            let (dashboard, stop) = (dashboard.clone(), Arc::clone(stop));
            // Each stream writes on its own thread for as long as its reader stays.
            let spawned = std::thread::Builder::new()
                .name("dashboard-events".into())
                .spawn(move || stream(request, &dashboard, &stop));
            if let Err(err) = spawned {
                tracing::warn!(%err, "cannot start a dashboard stream");
            }
        }
        _ => respond(
            request,
            404,
            "text/plain",
            format!("no such page: {path}; try / or /events\n"),
        ),
    }
}

/// The server-sent events: the response head written by hand (tiny_http would buffer a
/// streamed body), then a `state` event every [`PUSH`] until the reader goes away.
fn stream(request: tiny_http::Request, dashboard: &Dashboard, stop: &AtomicBool) {
    let mut writer = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nretry: 1000\n\n";
    if writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        let state = dashboard.state();
        let event = format!("id: {}\nevent: state\ndata: {state}\n\n", state["seq"]);
        if writer
            .write_all(event.as_bytes())
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
        std::thread::sleep(PUSH);
    }
}
