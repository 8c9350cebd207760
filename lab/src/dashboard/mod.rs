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
//! - `GET /state.json` -> the same JSON once;
//! - `POST /control` -> a presenter's action (`controls`: refused with 403 unless it
//!   comes from this page; `lab dashboard` only);
//! - `GET /runs/N/log`, `GET /runs/N/report.html` -> an experiment started from the page
//!   (`experiments`): its log streamed as it runs, its report.
//!
//! `picture` draws the system (what calls what, what is down, where a fault acts).
//!
//! The server is `http_server`'s (caps, limits, timeouts); readers of `/events` are
//! capped there too (503 with `Retry-After` above it).

mod chart;
pub mod command;
mod controls;
mod experiments;
mod page;
mod picture;
mod sample;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, HttpResponseBuilder, Route};
use anyhow::{Context, Result};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::http_server::{self, LoopbackServer, Subscribers};

use crate::service::Service;
use crate::targets::{ServiceStatus, Target};
use crate::traffic::Series;
pub use sample::{Provider, Services};
use sample::{Run, parse_runner_line};

/// How often the services and the traffic are sampled.
pub const TICK: Duration = Duration::from_millis(250);
/// How often the page is sent the state (the issue asks for at least once a second).
pub const PUSH: Duration = Duration::from_millis(500);

struct Shared {
    runs: Mutex<Vec<Run>>,
    samples: AtomicU64,
    panel: Mutex<Panel>,
    /// Bumped at each new line of an experiment's log, and at its end (the log streams
    /// wait on it).
    logs: watch::Sender<u64>,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            runs: Mutex::default(),
            samples: AtomicU64::new(0),
            panel: Mutex::default(),
            logs: watch::Sender::new(0),
        }
    }
}

/// What the presenter's part of the page shows: the controls (when this dashboard has
/// them), the users, the experiments started from the page.
#[derive(Debug, Default)]
pub struct Panel {
    /// The per-run secret the page's forms carry; `None`: a page without controls.
    pub secret: Option<String>,
    /// The experiments the page offers.
    pub experiments: Vec<String>,
    /// The action under way, if any.
    pub busy: Option<String>,
    /// The users' rate while they run.
    pub users: Option<f64>,
    pub runs: Vec<experiments::ExperimentRun>,
}

/// Experiment runs a dashboard keeps (each with up to [`experiments::MAX_LINES`] lines);
/// older ones leave the page (their files stay in the state directory).
const MAX_RUNS: usize = 20;

impl Panel {
    /// A new run; the oldest leaves when more than [`MAX_RUNS`] are kept.
    fn add_run(&mut self, run: experiments::ExperimentRun) {
        if self.runs.len() >= MAX_RUNS {
            self.runs.remove(0);
        }
        self.runs.push(run);
    }
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

    fn panel(&self) -> MutexGuard<'_, Panel> {
        self.shared
            .panel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A presenter's action on the timeline of the current run (else the last one).
    fn control_event(&self, text: String, verdict: Option<&str>) {
        let mut runs = self.runs();
        let run = match runs.iter().rposition(|r| !r.ended) {
            Some(i) => runs.get_mut(i),
            None => runs.last_mut(),
        };
        if let Some(run) = run {
            run.push_event(sample::EventKind::Control, text, verdict.map(String::from));
        }
    }

    /// The users' series the current run samples from now on (`None`: no users).
    fn set_series(&self, series: Option<Series>) {
        if let Some(run) = self.runs().iter_mut().rev().find(|r| !r.ended) {
            run.series = series;
        }
    }

    fn experiment_line(&self, id: u32, line: String) {
        if let Some(run) = self.panel().runs.iter_mut().find(|r| r.id == id) {
            if run.lines.len() < experiments::MAX_LINES {
                run.lines.push(line);
            } else {
                run.dropped += 1;
            }
        }
        self.shared.logs.send_modify(|n| *n += 1);
    }

    fn end_experiment(&self, id: u32, ended: experiments::Ended) {
        let verdict = {
            let mut panel = self.panel();
            let Some(run) = panel.runs.iter_mut().find(|r| r.id == id) else {
                return;
            };
            run.status = ended.status;
            run.deviated = ended.deviated;
            run.report_file = ended.report;
            run.report = run
                .report_file
                .as_ref()
                .map(|_| format!("/runs/{id}/report.html"));
            run.note = ended.note;
            run.done = true;
            (run.name.clone(), run.verdict(), run.status.clone())
        };
        let (name, verdict, status) = verdict;
        let good = status.as_deref() == Some("completed") && !verdict.contains("deviated");
        self.control_event(
            format!("experiment {name} ended: {verdict}"),
            Some(if good { "completed" } else { "failed" }),
        );
        self.shared.logs.send_modify(|n| *n += 1);
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
            "system_html": picture::system_html(runs.last().and_then(|r| r.points.last())),
            "panel_html": page::panel_html(&self.panel()),
            "experiments": self.panel().runs.iter().map(|r| json!({
                "id": r.id,
                "name": r.name,
                "done": r.done,
                "status": r.status,
                "deviated": r.deviated,
                "report": r.report,
                "lines": r.lines.len(),
            })).collect::<Vec<_>>(),
            "users": self.panel().users,
            "busy": self.panel().busy,
        })
    }

    fn page(&self, view: page::View, controls: bool) -> String {
        let runs = self.runs();
        page::page(&runs, &self.panel(), view, controls)
    }
}

/// What runs a service, in a few words: its process (local) or its Deployment
/// (Kubernetes, which has no pid here), and why it is not ready; a service the status
/// does not list was killed (removed from the lab until `lab up`).
fn note(row: Option<&ServiceStatus>) -> String {
    let Some(row) = row else {
        return "killed: not in the lab".into();
    };
    let runs = match row.pid {
        Some(pid) => format!("pid {pid} · :{}", row.port),
        None => format!("Deployment · :{}", row.port),
    };
    match &row.health {
        crate::targets::Health::Ready => runs,
        other => format!("{other}"),
    }
}

/// The provider's note, then on Kubernetes a line per pod (the first two): the end of
/// its name and the node it runs on.
fn provider_note(row: Option<&ServiceStatus>) -> String {
    let mut text = note(row);
    let pods = row.map_or(&[][..], |row| &row.pods[..]);
    if pods.len() > 2 {
        text.push_str(&format!(" · {} pods", pods.len()));
    }
    for pod in pods.iter().take(2) {
        // A pod's name ends with its ReplicaSet's hash and a random suffix of its own.
        let short = pod.name.rsplit('-').next().unwrap_or(&pod.name);
        let node = pod.node.as_deref().unwrap_or("no node yet");
        let ready = if pod.ready { "" } else { " (not ready)" };
        text.push_str(&format!("\n{short} @ {node}{ready}"));
    }
    text
}

/// What the target's status says about the services, the circuit and the faults.
pub fn services_of(status: Result<Option<Vec<ServiceStatus>>>) -> Services {
    let health = |row: Option<&ServiceStatus>| match row {
        Some(row) if row.health.is_ready() => Provider::Up,
        // A killed service is not listed: down, like one that exited.
        _ => Provider::Down,
    };
    match status {
        Ok(Some(rows)) => {
            let find = |service| rows.iter().find(|r| r.service == service);
            let consumer = find(Service::Consumer);
            Services {
                provider: health(find(Service::Provider)),
                circuit: consumer.and_then(|r| r.circuit.clone()),
                faults: rows
                    .iter()
                    .find_map(|r| r.faults.as_ref()?.as_ref().ok())
                    .map(|proxies| crate::fault_proxy::active_toxics(proxies))
                    .unwrap_or_default(),
                consumer: health(consumer),
                mode: consumer.and_then(|r| r.mode).map(|m| m.to_string()),
                proxy: find(Service::FaultProxy).map(|r| health(Some(r))),
                provider_note: Some(provider_note(find(Service::Provider))),
                consumer_note: consumer.map(|r| note(Some(r))),
            }
        }
        Ok(None) => Services {
            provider: Provider::Down,
            circuit: None,
            faults: Vec::new(),
            consumer: Provider::Down,
            mode: None,
            proxy: None,
            provider_note: None,
            consumer_note: None,
        },
        Err(err) => {
            tracing::debug!("dashboard: no status: {err:#}");
            Services {
                provider: Provider::Unknown,
                circuit: None,
                faults: Vec::new(),
                consumer: Provider::Unknown,
                mode: None,
                proxy: None,
                provider_note: None,
                consumer_note: None,
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
                    let mut last = Instant::now() - TICK;
                    while !stop.load(Ordering::SeqCst) {
                        let runs = dashboard.runs().len();
                        if runs == runs_seen && last.elapsed() < TICK {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        runs_seen = runs;
                        last = Instant::now();
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
    http: LoopbackServer,
}

impl Server {
    /// Serves `dashboard`; `controls` is the way to the presenter's controls (or a handle
    /// without any: every `POST /control` is then refused).
    pub fn start(
        addr: SocketAddr,
        dashboard: Dashboard,
        controls: controls::Handle,
    ) -> Result<Server> {
        let http = LoopbackServer::start("dashboard", addr, move |config| {
            routes(config, dashboard, controls);
        })?;
        Ok(Server { http })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.http.addr())
    }
}

/// The largest control form accepted (a few short fields).
const MAX_FORM_BYTES: usize = 4 * 1024;

fn routes(config: &mut web::ServiceConfig, dashboard: Dashboard, controls: controls::Handle) {
    let events = Events::start(dashboard.clone());
    let get = |path: &str, route: Route| {
        web::resource(path)
            .route(route)
            .default_service(web::to(method_not_allowed))
    };
    let form = web::FormConfig::default()
        .limit(MAX_FORM_BYTES)
        .error_handler(|err, _| {
            let response = text(
                HttpResponse::BadRequest(),
                "a control is a form: action=...&secret=... (urlencoded, at most 4 KiB)\n",
            );
            actix_web::error::InternalError::from_response(err, response).into()
        });
    config
        .app_data(web::Data::new(dashboard))
        .app_data(web::Data::new(events))
        .app_data(web::Data::new(controls))
        .app_data(web::Data::new(LogReaders(Subscribers::new(
            http_server::stream_cap(),
        ))))
        .app_data(form)
        .service(get("/", web::get().to(page_html)))
        .service(get("/state.json", web::get().to(state_json)))
        .service(get("/events", web::get().to(events_stream)))
        .service(get("/runs/{id}/log", web::get().to(run_log)))
        .service(get("/runs/{id}/report.html", web::get().to(run_report)))
        .service(
            web::resource("/control")
                .route(web::post().to(controls::control))
                .default_service(web::to(only_post)),
        )
        .default_service(web::to(not_found));
}

fn text(mut response: HttpResponseBuilder, body: &'static str) -> HttpResponse {
    response
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

async fn method_not_allowed() -> HttpResponse {
    text(HttpResponse::MethodNotAllowed(), "only GET is served\n")
}

async fn only_post() -> HttpResponse {
    text(
        HttpResponse::MethodNotAllowed(),
        "a control is a POST (the page's buttons)\n",
    )
}

/// 404 without quoting the path (a client chooses it, up to the URL limit).
async fn not_found() -> HttpResponse {
    text(HttpResponse::NotFound(), "no such page; try / or /events\n")
}

#[derive(serde::Deserialize)]
struct PageQuery {
    view: Option<String>,
}

/// `GET /`. The controls (and the secret in their form) only for a page asked for by a
/// loopback name: a page reached through another name (DNS rebinding) is read-only.
async fn page_html(
    request: actix_web::HttpRequest,
    dashboard: web::Data<Dashboard>,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    let view = match query.view.as_deref() {
        Some("projector") => page::View::Projector,
        _ => page::View::Normal,
    };
    let controls = request
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(controls::loopback_host);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(dashboard.page(view, controls))
}

async fn state_json(dashboard: web::Data<Dashboard>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(dashboard.state().to_string() + "\n")
}

/// The cap on readers of the experiments' logs.
struct LogReaders(Subscribers);

/// `GET /runs/{id}/log`: the run's log as plain text, streamed (chunked) as its lines
/// come, ending with `verdict: ...` and `report: /runs/{id}/report.html` when it ends.
async fn run_log(
    id: web::Path<u32>,
    dashboard: web::Data<Dashboard>,
    readers: web::Data<LogReaders>,
) -> HttpResponse {
    let id = id.into_inner();
    if !dashboard.panel().runs.iter().any(|r| r.id == id) {
        return text(HttpResponse::NotFound(), "no such run\n");
    }
    let Some(place) = readers.0.subscribe() else {
        return http_server::busy(
            READERS_RETRY_AFTER_SECS,
            "too many log readers; retry later\n",
        );
    };
    let receiver = dashboard.shared.logs.subscribe();
    let dashboard = dashboard.into_inner();
    let body = stream::unfold(
        (receiver, 0usize, false, place),
        move |(mut receiver, next, finished, place)| {
            let dashboard = Arc::clone(&dashboard);
            async move {
                if finished {
                    return None;
                }
                loop {
                    receiver.borrow_and_update();
                    let chunk = {
                        let panel = dashboard.panel();
                        let run = panel.runs.iter().find(|r| r.id == id)?;
                        if run.lines.len() > next {
                            let mut chunk = run.lines[next..].join("\n");
                            chunk.push('\n');
                            Some((chunk, run.lines.len(), false))
                        } else if run.done {
                            let mut end = format!("verdict: {}\n", run.verdict());
                            if let Some(note) = &run.note {
                                end.push_str(&format!("note: {note}\n"));
                            }
                            if let Some(report) = &run.report {
                                end.push_str(&format!("report: {report}\n"));
                            }
                            Some((end, next, true))
                        } else {
                            None
                        }
                    };
                    if let Some((chunk, next, finished)) = chunk {
                        return Some((Bytes::from(chunk), (receiver, next, finished, place)));
                    }
                    receiver.changed().await.ok()?;
                }
            }
        },
    )
    .map(Ok::<_, Infallible>);
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .streaming(body)
}

/// `GET /runs/{id}/report.html`: the run's report, once written.
async fn run_report(id: web::Path<u32>, dashboard: web::Data<Dashboard>) -> HttpResponse {
    let id = id.into_inner();
    let file = dashboard
        .panel()
        .runs
        .iter()
        .find(|r| r.id == id)
        .and_then(|r| r.report_file.clone());
    let Some(file) = file else {
        return text(HttpResponse::NotFound(), "no report for this run (yet)\n");
    };
    match std::fs::read(&file) {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(bytes),
        Err(err) => {
            tracing::warn!("dashboard: cannot read {}: {err}", file.display());
            text(HttpResponse::NotFound(), "the report's file is gone\n")
        }
    }
}

/// One `state` event, as the stream carries it.
#[derive(Clone)]
struct Event {
    made: Instant,
    text: Bytes,
}

impl Event {
    fn of(dashboard: &Dashboard) -> Event {
        let state = dashboard.state();
        Event {
            made: Instant::now(),
            text: Bytes::from(format!(
                "id: {}\nevent: state\ndata: {state}\n\n",
                state["seq"]
            )),
        }
    }
}

/// The event stream's source: one `state` event made every [`PUSH`] while anyone reads,
/// shared by every reader (a reader costs a socket and a place, not a state each).
struct Events {
    dashboard: Dashboard,
    latest: Rc<watch::Sender<Event>>,
    readers: Subscribers,
}

/// What a reader refused for lack of a place is told to wait, in seconds (the page asks
/// again after 5 s too).
const READERS_RETRY_AFTER_SECS: u32 = 5;

/// Consecutive events to one reader are at least this far apart (a reader's first
/// event may be made just before the next push).
const MIN_GAP: Duration = Duration::from_millis(400);

impl Events {
    /// Starts the pusher on the server's runtime (it ends with the server).
    fn start(dashboard: Dashboard) -> Events {
        let latest = Rc::new(watch::Sender::new(Event::of(&dashboard)));
        tokio::task::spawn_local({
            let (dashboard, latest) = (dashboard.clone(), Rc::clone(&latest));
            async move {
                let mut ticks = tokio::time::interval(PUSH);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    if latest.receiver_count() > 0 {
                        latest.send_replace(Event::of(&dashboard));
                    }
                }
            }
        });
        Events {
            dashboard,
            latest,
            readers: Subscribers::new(http_server::stream_cap()),
        }
    }

    /// A new reader's receiver and first event (made now unless the last is fresh).
    fn subscribe(&self) -> (watch::Receiver<Event>, Event) {
        if self.latest.borrow().made.elapsed() >= PUSH {
            self.latest.send_replace(Event::of(&self.dashboard));
        }
        let receiver = self.latest.subscribe();
        let first = receiver.borrow().clone();
        (receiver, first)
    }
}

/// `retry: 1000`, then a `state` event every [`PUSH`] until the reader leaves; 503 with
/// `Retry-After` when [`Subscribers`] are all taken.
async fn events_stream(events: web::Data<Events>) -> HttpResponse {
    let Some(place) = events.readers.subscribe() else {
        return http_server::busy(
            READERS_RETRY_AFTER_SECS,
            "too many readers of /events; retry later or read /state.json\n",
        );
    };
    let (receiver, first) = events.subscribe();
    let head = stream::once(async { Bytes::from_static(b"retry: 1000\n\n") });
    let first_sent = first.made;
    let rest = stream::unfold(
        (receiver, first_sent, place),
        |(mut receiver, last, place)| async move {
            loop {
                receiver.changed().await.ok()?;
                let event = receiver.borrow_and_update().clone();
                if event.made.saturating_duration_since(last) >= MIN_GAP {
                    return Some((event.text, (receiver, event.made, place)));
                }
            }
        },
    );
    let body = head
        .chain(stream::once(async move { first.text }))
        .chain(rest)
        .map(Ok::<_, Infallible>);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_keeps_the_latest_runs_only() {
        let mut panel = Panel::default();
        for id in 1..=(MAX_RUNS as u32 + 5) {
            panel.add_run(experiments::ExperimentRun {
                id,
                name: "x.json".into(),
                lines: vec!["a line".into()],
                dropped: 0,
                done: true,
                status: None,
                deviated: false,
                report: None,
                report_file: None,
                note: None,
            });
        }
        assert_eq!(panel.runs.len(), MAX_RUNS);
        assert_eq!(panel.runs[0].id, 6);
        assert_eq!(panel.runs.last().map(|r| r.id), Some(MAX_RUNS as u32 + 5));
    }

    #[test]
    fn on_kubernetes_the_provider_note_names_its_pods_and_their_nodes() {
        use crate::targets::{Health, PodPlace};
        let pod = |name: &str, node: Option<&str>, ready| PodPlace {
            name: name.into(),
            node: node.map(Into::into),
            ready,
        };
        let mut row = ServiceStatus {
            service: Service::Provider,
            pid: None,
            port: 8080,
            health: Health::Ready,
            mode: None,
            circuit: None,
            faults: None,
            pods: vec![pod(
                "my-provider-app-765f76fb7f-rsmc6",
                Some("minikube"),
                true,
            )],
        };
        assert_eq!(
            provider_note(Some(&row)),
            "Deployment · :8080\nrsmc6 @ minikube"
        );
        row.pods
            .push(pod("my-provider-app-765f76fb7f-x2x9q", None, false));
        row.pods
            .push(pod("my-provider-app-765f76fb7f-aaaaa", Some("w2"), true));
        assert_eq!(
            provider_note(Some(&row)),
            "Deployment · :8080 · 3 pods\nrsmc6 @ minikube\nx2x9q @ no node yet (not ready)"
        );
        // Locally: no pods, the note alone.
        row.pods.clear();
        row.pid = Some(42);
        assert_eq!(provider_note(Some(&row)), "pid 42 · :8080");
        assert_eq!(provider_note(None), "killed: not in the lab");
    }
}
