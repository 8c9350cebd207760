//! The presenter's controls (`lab dashboard` only; `lab demo --dashboard` tells its own
//! story and has none): kill and restore the provider, fix and break the consumer, a
//! latency and an error fault on the fault proxy, the users, an experiment.
//!
//! Each is `POST /control` with a form (`action`, `secret`, `experiment`), so the page's
//! buttons work without JavaScript (the answer is a 303 back to the page). A request is
//! refused with 403 and a reason, before anything is done, unless:
//! - its `Host` is a loopback name (a DNS-rebinding page sends its own name);
//! - its `Origin`, when sent, is this very server (`http://` + `Host`), and its
//!   `Sec-Fetch-Site`, when sent, is `same-origin` or `none`;
//! - it carries the per-run secret (form field `secret` or header `X-Lab-Secret`), which
//!   only the page served by this process knows.
//!
//! Accepted actions go to one worker thread, one at a time (a second one while the first
//! runs gets 409); the answer is sent at once and the action's outcome becomes an event
//! on the timeline, so a slow action (a restart waits for readiness) never holds a
//! connection open. Experiments run on a thread of their own (`experiments`).

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::Dashboard;
use super::experiments::{Catalogue, Experiments, Launch};
use crate::interrupt::Started;
use crate::service::{Mode, Service};
use crate::state::StateDir;
use crate::targets::{Target, TargetKind, UpOptions};
use crate::traffic::{Config, Schedule, Traffic, limits};

/// The header a script may send the secret in instead of the form field.
pub const SECRET_HEADER: &str = "x-lab-secret";

/// The toxics the page adds to the fault proxy's `provider` proxy (named so the page
/// removes only its own).
pub const LATENCY_TOXIC: &str = "dashboard-latency";
pub const ERRORS_TOXIC: &str = "dashboard-errors";
/// The latency fault: each answer of the provider held this long.
pub const LATENCY_MS: u32 = 1500;

/// What a button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    KillProvider,
    RestoreProvider,
    Fix,
    Break,
    AddLatency,
    RemoveLatency,
    AddErrors,
    RemoveErrors,
    StartUsers,
    StopUsers,
    /// One of the catalogue's experiments, by file name.
    RunExperiment(String),
}

impl Action {
    /// The form's `action` (and `experiment`) read into an action.
    pub fn parse(action: &str, experiment: Option<&str>) -> Result<Action, &'static str> {
        Ok(match action {
            "kill-provider" => Action::KillProvider,
            "restore-provider" => Action::RestoreProvider,
            "fix" => Action::Fix,
            "break" => Action::Break,
            "add-latency" => Action::AddLatency,
            "remove-latency" => Action::RemoveLatency,
            "add-errors" => Action::AddErrors,
            "remove-errors" => Action::RemoveErrors,
            "start-users" => Action::StartUsers,
            "stop-users" => Action::StopUsers,
            "run-experiment" => Action::RunExperiment(
                experiment
                    .ok_or("run-experiment needs an experiment field")?
                    .to_string(),
            ),
            _ => return Err("unknown action"),
        })
    }

    /// What the timeline says.
    pub fn label(&self) -> String {
        match self {
            Action::KillProvider => "kill the provider".into(),
            Action::RestoreProvider => "restore the provider".into(),
            Action::Fix => "fix the consumer (resilience on)".into(),
            Action::Break => "break the consumer (resilience off)".into(),
            Action::AddLatency => format!("add {LATENCY_MS} ms latency on the provider"),
            Action::RemoveLatency => "remove the latency".into(),
            Action::AddErrors => "add 503 errors on the provider".into(),
            Action::RemoveErrors => "remove the 503 errors".into(),
            Action::StartUsers => "start the users".into(),
            Action::StopUsers => "stop the users".into(),
            Action::RunExperiment(name) => format!("start experiment {name}"),
        }
    }
}

/// A fresh per-run secret: 128 random bits as hex (rand's thread RNG is a CSPRNG).
fn new_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal strings, compared in time independent of where they differ.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether a `Host` header names this machine's loopback (`127.0.0.1`, `localhost`,
/// `[::1]`, with or without a port).
pub fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or("", |(inside, _)| inside)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why a control request is refused, or `Ok` when it may act.
pub fn check(request: &HttpRequest, secret: &str, given: Option<&str>) -> Result<(), &'static str> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(host) = text(header::HOST.as_str()) else {
        return Err("no Host header");
    };
    if !loopback_host(host) {
        return Err("the Host is not this machine's loopback (127.0.0.1 or localhost)");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| o == host);
        if !same {
            return Err("the request comes from another origin than this page");
        }
    }
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err("the browser says the request comes from another site");
    }
    let given = given.or_else(|| text(SECRET_HEADER));
    match given {
        None => Err("no secret: use the page's own buttons"),
        Some(given) if !same_secret(given, secret) => {
            Err("wrong secret: reload the page (each dashboard has its own)")
        }
        Some(_) => Ok(()),
    }
}

/// The form the page's buttons send.
#[derive(Debug, Deserialize)]
pub struct ControlForm {
    action: String,
    secret: Option<String>,
    experiment: Option<String>,
    /// `projector`: the 303 goes back to the projector view.
    view: Option<String>,
    /// Set by the page's script: answer 202 with a line of text instead of a 303.
    js: Option<String>,
}

/// What the page's server holds: the secret and the way to the worker (`None`: a page
/// without controls).
#[derive(Clone)]
pub struct Handle {
    inner: Option<(String, mpsc::Sender<Action>)>,
    dashboard: Dashboard,
}

impl Handle {
    pub fn none(dashboard: Dashboard) -> Handle {
        Handle {
            inner: None,
            dashboard,
        }
    }
}

fn plain(mut response: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    response
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// `POST /control`.
pub async fn control(
    request: HttpRequest,
    form: web::Form<ControlForm>,
    handle: web::Data<Handle>,
) -> HttpResponse {
    let Some((secret, jobs)) = &handle.inner else {
        return plain(
            HttpResponse::Forbidden(),
            "refused: this page has no controls (`lab demo` tells its own story; use `lab dashboard`)\n".into(),
        );
    };
    if let Err(reason) = check(&request, secret, form.secret.as_deref()) {
        tracing::info!("dashboard: control refused: {reason}");
        return plain(HttpResponse::Forbidden(), format!("refused: {reason}\n"));
    }
    let action = match Action::parse(&form.action, form.experiment.as_deref()) {
        Ok(action) => action,
        Err(reason) => return plain(HttpResponse::BadRequest(), format!("{reason}\n")),
    };
    if let Action::RunExperiment(name) = &action
        && !handle
            .dashboard
            .panel()
            .experiments
            .iter()
            .any(|e| e == name)
    {
        return plain(
            HttpResponse::BadRequest(),
            "no such experiment in this dashboard's list\n".into(),
        );
    }
    let label = action.label();
    {
        let mut panel = handle.dashboard.panel();
        if let Some(busy) = &panel.busy {
            return plain(
                HttpResponse::Conflict(),
                format!("busy: `{busy}` is still under way; try again when it ends\n"),
            );
        }
        panel.busy = Some(label.clone());
    }
    if jobs.send(action).is_err() {
        handle.dashboard.panel().busy = None;
        return plain(
            HttpResponse::ServiceUnavailable(),
            "the controls have stopped\n".into(),
        );
    }
    handle
        .dashboard
        .control_event(format!("{label}: asked"), None);
    if form.js.is_some() {
        return plain(HttpResponse::Accepted(), format!("accepted: {label}\n"));
    }
    let back = if form.view.as_deref() == Some("projector") {
        "/?view=projector"
    } else {
        "/"
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back))
        .finish()
}

/// What the controls need to act on the lab.
pub struct Setup {
    pub kind: TargetKind,
    pub states: StateDir,
    pub namespace: Option<String>,
    pub started: Started,
    /// Users' requests per second when they are started (and at once when `start_users`).
    pub rate: f64,
    pub start_users: bool,
    pub catalogue: Catalogue,
}

/// The worker, running until dropped (then the users stop and an experiment under way is
/// interrupted).
pub struct Controls {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Controls {
    pub fn start(dashboard: Dashboard, setup: Setup) -> Result<Controls> {
        let secret = new_secret();
        {
            let mut panel = dashboard.panel();
            panel.secret = Some(secret.clone());
            panel.experiments = setup.catalogue.names();
        }
        let (jobs, received) = mpsc::channel();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("dashboard-controls".into())
            .spawn({
                let dashboard = dashboard.clone();
                move || Worker::run(dashboard, setup, received, ready)
            })
            .context("cannot start the dashboard's controls")?;
        // The users are running (or could not start: the worker said why) before the
        // page is served, as before there were controls.
        let _ = started.recv();
        Ok(Controls {
            handle: Handle {
                inner: Some((secret, jobs)),
                dashboard,
            },
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl Drop for Controls {
    fn drop(&mut self) {
        // The worker ends when every sender is gone: ours, and the server's (dropped
        // with the server, before this).
        self.handle.inner = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    dashboard: Dashboard,
    target: Box<dyn Target>,
    setup: Setup,
    users: Option<Traffic>,
    experiments: Experiments,
    client: reqwest::blocking::Client,
}

impl Worker {
    /// Runs the actions until every sender is gone; `ready` is told (or dropped) once the
    /// worker is set up and the users started when asked.
    fn run(
        dashboard: Dashboard,
        setup: Setup,
        jobs: mpsc::Receiver<Action>,
        ready: mpsc::Sender<()>,
    ) {
        let target = match crate::targets::open(
            setup.kind,
            setup.states.clone(),
            setup.namespace.clone(),
            setup.started.clone(),
        ) {
            Ok(target) => target,
            Err(err) => {
                tracing::warn!("dashboard: the controls cannot open the target: {err:#}");
                return;
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!("dashboard: no HTTP client for the controls: {err:#}");
                return;
            }
        };
        let experiments = Experiments::new(dashboard.clone());
        let mut worker = Worker {
            dashboard,
            target,
            setup,
            users: None,
            experiments,
            client,
        };
        if worker.setup.start_users
            && let Err(err) = worker.start_users()
        {
            tracing::warn!("dashboard: cannot start the users: {err:#}");
        }
        drop(ready);
        while let Ok(action) = jobs.recv() {
            let label = action.label();
            let began = Instant::now();
            let outcome = worker.act(&action);
            // Free before the event: whoever waits for the event may act again at once.
            worker.dashboard.panel().busy = None;
            match outcome {
                Ok(()) => worker.dashboard.control_event(
                    format!("{label}: done in {:.1} s", began.elapsed().as_secs_f64()),
                    Some("completed"),
                ),
                Err(err) => {
                    tracing::warn!("dashboard: {label}: {err:#}");
                    worker
                        .dashboard
                        .control_event(format!("{label}: failed: {err:#}"), Some("failed"));
                }
            }
        }
        if let Some(users) = worker.users.take() {
            let _ = users.stop_within(Duration::from_secs(2));
        }
    }

    fn ready_timeout(&self) -> Duration {
        if self.setup.kind == TargetKind::Local {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(180)
        }
    }

    fn act(&mut self, action: &Action) -> Result<()> {
        match action {
            Action::KillProvider => self.target.kill(Service::Provider),
            Action::RestoreProvider => {
                // `lab up`: repairs the lab as it is (mode, ports, fault proxy kept).
                let options = UpOptions {
                    ready_timeout: self.ready_timeout(),
                    ..UpOptions::default()
                };
                self.target.up(&options).map(drop)
            }
            Action::Fix => self.target.switch_mode(Mode::After, self.ready_timeout()),
            Action::Break => self.target.switch_mode(Mode::Before, self.ready_timeout()),
            Action::AddLatency => self.add_toxic(
                LATENCY_TOXIC,
                serde_json::json!({"name": LATENCY_TOXIC, "type": "latency",
                    "stream": "downstream", "toxicity": 1.0,
                    "attributes": {"latency": LATENCY_MS, "jitter": 0}}),
            ),
            Action::AddErrors => self.add_toxic(
                ERRORS_TOXIC,
                serde_json::json!({"name": ERRORS_TOXIC, "type": "http_status",
                    "stream": "upstream", "toxicity": 1.0,
                    "attributes": {"status": 503}}),
            ),
            Action::RemoveLatency => self.remove_toxic(LATENCY_TOXIC),
            Action::RemoveErrors => self.remove_toxic(ERRORS_TOXIC),
            Action::StartUsers => self.start_users(),
            Action::StopUsers => {
                let users = self.users.take().context("the users are not running")?;
                self.dashboard.panel().users = None;
                users.stop_within(Duration::from_secs(2)).map(drop)
            }
            Action::RunExperiment(name) => {
                let launch = Launch {
                    consumer_url: self.target.consumer_url()?,
                    fault_proxy: self.target.fault_proxy_url().ok(),
                    fault_token: self.target.fault_token().ok(),
                    users: self.users.as_ref().map(|u| u.series().clone()),
                };
                let text = self
                    .setup
                    .catalogue
                    .get(name)
                    .context("no such experiment")?;
                self.experiments
                    .start(name, text, &self.setup.states, launch)
            }
        }
    }

    fn start_users(&mut self) -> Result<()> {
        if self.users.is_some() {
            bail!("the users are already running");
        }
        let rate = self.setup.rate;
        let url = self.target.consumer_url()?;
        // In memory only: an experiment's run writes the stretch it needs (a file
        // rewritten whole at every settled bucket would grow costly over a long class).
        let traffic = Traffic::start(Config {
            url,
            schedule: Schedule::new(rate, limits::MAX_DURATION),
            concurrency: 1000,
            timeout: Duration::from_secs(2),
            bucket: Duration::from_millis(250),
            jsonl: None,
        })?;
        self.dashboard.set_series(Some(traffic.series().clone()));
        self.dashboard.panel().users = Some(rate);
        self.users = Some(traffic);
        Ok(())
    }

    fn fault_proxy(&self) -> Result<String> {
        self.target.fault_proxy_url().context(
            "the lab has no fault proxy; bring it up with `lab up --fault-proxy` for the faults",
        )
    }

    fn add_toxic(&self, name: &str, toxic: serde_json::Value) -> Result<()> {
        let api = self.fault_proxy()?;
        let url = format!(
            "{api}/proxies/{}/toxics",
            crate::fault_proxy::PROVIDER_PROXY
        );
        let response = self
            .client
            .post(&url)
            .json(&toxic)
            .send()
            .with_context(|| format!("cannot reach the fault proxy ({url})"))?;
        match response.status().as_u16() {
            200 => Ok(()),
            409 => bail!("{name} is already on"),
            status => bail!(
                "the fault proxy answered {status}: {}",
                short(&response.text().unwrap_or_default())
            ),
        }
    }

    fn remove_toxic(&self, name: &str) -> Result<()> {
        let api = self.fault_proxy()?;
        let url = format!(
            "{api}/proxies/{}/toxics/{name}",
            crate::fault_proxy::PROVIDER_PROXY
        );
        let response = self
            .client
            .delete(&url)
            .send()
            .with_context(|| format!("cannot reach the fault proxy ({url})"))?;
        match response.status().as_u16() {
            200 | 204 => Ok(()),
            404 => bail!("{name} was not on"),
            status => bail!(
                "the fault proxy answered {status}: {}",
                short(&response.text().unwrap_or_default())
            ),
        }
    }
}

/// An answer's first line, cut short (it goes on the timeline).
fn short(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn actions_parse_from_the_form_and_nothing_else_does() {
        assert_eq!(
            Action::parse("kill-provider", None),
            Ok(Action::KillProvider)
        );
        assert_eq!(
            Action::parse("run-experiment", Some("local.json")),
            Ok(Action::RunExperiment("local.json".into()))
        );
        assert!(Action::parse("run-experiment", None).is_err());
        assert!(Action::parse("rm -rf", None).is_err());
    }

    #[test]
    fn only_loopback_hosts_pass() {
        for host in ["127.0.0.1:8083", "localhost:1", "[::1]:8083", "127.0.0.1"] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:8083",
            "10.0.0.1:8083",
            "[::2]:1",
            "",
            "127.0.0.1.evil:1",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_request_needs_a_loopback_host_the_same_origin_and_the_secret() {
        let secret = "0123456789abcdef0123456789abcdef";
        let ok = || {
            TestRequest::post()
                .insert_header(("Host", "127.0.0.1:8083"))
                .insert_header(("Origin", "http://127.0.0.1:8083"))
        };
        assert_eq!(check(&ok().to_http_request(), secret, Some(secret)), Ok(()));
        let by_header = ok()
            .insert_header((SECRET_HEADER, secret))
            .to_http_request();
        assert_eq!(check(&by_header, secret, None), Ok(()));
        assert!(check(&ok().to_http_request(), secret, None).is_err());
        assert!(check(&ok().to_http_request(), secret, Some("0123")).is_err());
        let mut wrong = secret.to_string();
        wrong.replace_range(31.., "0");
        assert!(check(&ok().to_http_request(), secret, Some(&wrong)).is_err());
        let other_origin = TestRequest::post()
            .insert_header(("Host", "127.0.0.1:8083"))
            .insert_header(("Origin", "http://evil.example"))
            .to_http_request();
        assert!(check(&other_origin, secret, Some(secret)).is_err());
        let rebound = TestRequest::post()
            .insert_header(("Host", "evil.example:8083"))
            .to_http_request();
        assert!(check(&rebound, secret, Some(secret)).is_err());
        let cross_site = ok()
            .insert_header(("Sec-Fetch-Site", "cross-site"))
            .to_http_request();
        assert!(check(&cross_site, secret, Some(secret)).is_err());
        assert_eq!(new_secret().len(), 32);
        assert_ne!(new_secret(), new_secret());
    }
}
