//! Experiments started from the page: the catalogue the page offers, and each run (one at
//! a time) on a thread of its own: chaos-runner's output kept line by line for the page
//! and its log stream (`GET /runs/N/log`), its steps as events on the timeline, then its
//! verdict and a report (chaos-runner's `report`, with the users' series when the users
//! ran) served at `/runs/N/report.html`.
//!
//! Files go in `<state dir>/dashboard/run-N/`: the experiment as run, the journal, the
//! users' series from their start to the run's end (`users.jsonl`, the lab's JSON lines,
//! written when the run ends), the report.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::Dashboard;
use crate::process::ProcessId;
use crate::state::StateDir;
use crate::traffic::Series;

/// Lines of one run's log kept (the stream and the page); later ones are counted.
pub const MAX_LINES: usize = 5_000;
/// Experiments a catalogue holds at most, and the size of each.
const MAX_EXPERIMENTS: usize = 50;
const MAX_EXPERIMENT_BYTES: u64 = 1024 * 1024;

/// The dashboard's folder in the state directory.
pub fn dir(states: &StateDir) -> PathBuf {
    states.root().join("dashboard")
}

/// The experiments the lab ships for the local target (embedded, so an installed `lab`
/// has them too).
const SHIPPED: [(&str, &str); 4] = [
    (
        "local.json",
        include_str!("../../../experiments/local.json"),
    ),
    (
        "provider-latency.json",
        include_str!("../../../experiments/provider-latency.json"),
    ),
    (
        "provider-errors.json",
        include_str!("../../../experiments/provider-errors.json"),
    ),
    (
        "slow-provider.json",
        include_str!("../../../experiments/slow-provider.json"),
    ),
];

/// The experiments the page offers, by file name.
#[derive(Debug, Clone)]
pub struct Catalogue {
    entries: Vec<(String, String)>,
}

impl Catalogue {
    pub fn shipped() -> Catalogue {
        Catalogue {
            entries: SHIPPED
                .iter()
                .map(|(name, text)| ((*name).to_string(), (*text).to_string()))
                .collect(),
        }
    }

    /// Every `*.json` of `dir` (`lab dashboard --experiments DIR`), by name order.
    pub fn from_dir(dir: &Path) -> Result<Catalogue> {
        let mut entries = Vec::new();
        let listing =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in listing {
            let path = entry
                .with_context(|| format!("cannot read {}", dir.display()))?
                .path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".json") || !path.is_file() {
                continue;
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                bail!(
                    "{}: experiment names are letters, digits, `.`, `-` and `_`",
                    path.display()
                );
            }
            let size = path.metadata().map_or(0, |m| m.len());
            if size > MAX_EXPERIMENT_BYTES {
                bail!("{}: larger than 1 MiB", path.display());
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            entries.push((name.to_string(), text));
        }
        if entries.is_empty() {
            bail!("{} holds no *.json experiment", dir.display());
        }
        if entries.len() > MAX_EXPERIMENTS {
            bail!(
                "{} holds {} experiments; the page offers {MAX_EXPERIMENTS} at most",
                dir.display(),
                entries.len()
            );
        }
        entries.sort();
        Ok(Catalogue { entries })
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(name, _)| name.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| text.as_str())
    }
}

/// One experiment run as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentRun {
    /// 1, 2, ... in this dashboard (`/runs/{id}/...`).
    pub id: u32,
    pub name: String,
    pub lines: Vec<String>,
    /// Lines past [`MAX_LINES`], not kept.
    pub dropped: u64,
    pub done: bool,
    /// The journal's status (`completed`, `failed`, `aborted`, `interrupted`) and whether
    /// the hypothesis deviated; `None` while it runs or when no journal was written.
    pub status: Option<String>,
    pub deviated: bool,
    /// The report's path on the page, once written, and its file.
    pub report: Option<String>,
    #[serde(skip)]
    pub report_file: Option<PathBuf>,
    /// Why there is no verdict or no report, when that happened.
    pub note: Option<String>,
}

impl ExperimentRun {
    /// The verdict line that ends the log.
    pub fn verdict(&self) -> String {
        match &self.status {
            Some(status) if self.deviated => format!("{status}, deviated"),
            Some(status) => status.clone(),
            None => "no journal".to_string(),
        }
    }
}

/// What a run needs from the lab when it starts.
pub struct Launch {
    pub consumer_url: String,
    /// The fault proxy's API (`TOXIPROXY_URL`), when the lab has one.
    pub fault_proxy: Option<String>,
    /// The provider's fault token (`FAULT_API_TOKEN`).
    pub fault_token: Option<String>,
    /// The users' series, when the users run.
    pub users: Option<Series>,
}

/// The run under way, if any.
struct Current {
    pids: Vec<u32>,
    thread: JoinHandle<()>,
}

/// The experiment runs of one dashboard.
pub struct Experiments {
    dashboard: Dashboard,
    current: Arc<Mutex<Option<Current>>>,
    next_id: u32,
}

impl Experiments {
    pub fn new(dashboard: Dashboard) -> Experiments {
        Experiments {
            dashboard,
            current: Arc::default(),
            next_id: 1,
        }
    }

    /// Starts `name` (its JSON is `text`) with chaos-runner; returns once it runs.
    pub fn start(
        &mut self,
        name: &str,
        text: &str,
        states: &StateDir,
        launch: Launch,
    ) -> Result<()> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|c| !c.thread.is_finished()) {
            bail!("an experiment is already running; wait for its verdict");
        }
        let chaos_runner = crate::binaries::require(&["chaos-runner"])?
            .pop()
            .context("no path for chaos-runner")?;
        let id = self.next_id;
        self.next_id += 1;
        let run_dir = dir(states).join(format!("run-{id}"));
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let experiment = run_dir.join("experiment.json");
        atomic_file::write(&experiment, text.as_bytes())
            .with_context(|| format!("cannot write {}", experiment.display()))?;
        let journal = run_dir.join("journal.json");

        // The experiment calls `lab` by name: this very lab first on PATH, on this state
        // directory, as the demo does.
        let mut path = OsString::from(crate::binaries::own_dir()?.as_os_str());
        if let Some(existing) = std::env::var_os("PATH") {
            path.push(":");
            path.push(existing);
        }
        let mut command = duct::cmd(
            &chaos_runner,
            [
                OsString::from("run"),
                "--rollback-strategy".into(),
                "always".into(),
                "--journal-path".into(),
                journal.clone().into(),
                experiment.into(),
            ],
        )
        .dir(&run_dir)
        .stdin_null()
        .stderr_to_stdout()
        .unchecked()
        .env("PATH", path)
        .env("LAB_STATE_DIR", states.root())
        .env("CONSUMER_URL", &launch.consumer_url);
        if let Some(api) = &launch.fault_proxy {
            command = command.env(crate::fault_proxy::URL_ENV, api);
        }
        if let Some(token) = &launch.fault_token {
            command = command.env(crate::fault_token::ENV, token);
        }
        let handle = command
            .reader()
            .with_context(|| format!("cannot start {}", chaos_runner.display()))?;
        let pids = handle.pids();
        self.dashboard.panel().add_run(ExperimentRun {
            id,
            name: name.to_string(),
            lines: Vec::new(),
            dropped: 0,
            done: false,
            status: None,
            deviated: false,
            report: None,
            report_file: None,
            note: None,
        });
        let dashboard = self.dashboard.clone();
        let thread = std::thread::Builder::new()
            .name("dashboard-run".into())
            .spawn(move || {
                follow(&dashboard, id, &handle);
                let ran_until = SystemTime::now();
                let users = launch
                    .users
                    .and_then(|series| write_users(&series, ran_until, &run_dir));
                let ended = finish(&chaos_runner, &journal, &run_dir, users);
                dashboard.end_experiment(id, ended);
            })
            .context("cannot start the experiment's thread")?;
        *current = Some(Current { pids, thread });
        Ok(())
    }
}

/// Reads the runner's output to its end, each line to the page and the timeline.
fn follow(dashboard: &Dashboard, id: u32, handle: &duct::ReaderHandle) {
    for line in BufReader::new(handle).lines() {
        let Ok(line) = line else { break };
        let plain = console::strip_ansi_codes(&line).into_owned();
        dashboard.runner_line(&plain);
        dashboard.experiment_line(id, plain);
    }
    let _ = handle.try_wait();
}

/// How long the users' requests of a run's last moments may take to settle (their
/// timeout, and a little).
const USERS_SETTLE: Duration = Duration::from_millis(2500);

/// Writes the users' settled buckets up to `until` (waiting for those still in flight,
/// at most [`USERS_SETTLE`]) as `run_dir/users.jsonl`; `None` when there are none or the
/// file cannot be written (the report then has no users).
fn write_users(series: &Series, until: SystemTime, run_dir: &Path) -> Option<PathBuf> {
    let until_s = until
        .duration_since(series.started_at())
        .unwrap_or_default()
        .as_secs_f64();
    let deadline = Instant::now() + USERS_SETTLE;
    let mut lines = Vec::new();
    loop {
        lines.extend(series.settled_lines());
        let covered = lines
            .last()
            .map_or(0.0, |l| l.offset_s + l.summary.window_s);
        if covered >= until_s || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if lines.is_empty() {
        return None;
    }
    let mut text = Vec::new();
    for line in &lines {
        serde_json::to_writer(&mut text, line).ok()?;
        text.push(b'\n');
    }
    let path = run_dir.join("users.jsonl");
    match atomic_file::write(&path, &text) {
        Ok(_) => Some(path),
        Err(err) => {
            tracing::warn!("dashboard: cannot write {}: {err}", path.display());
            None
        }
    }
}

/// What a finished run left: its journal's status, and its report's file name.
pub struct Ended {
    pub status: Option<String>,
    pub deviated: bool,
    pub report: Option<PathBuf>,
    pub note: Option<String>,
}

#[derive(Deserialize)]
struct JournalHead {
    status: String,
    #[serde(default)]
    deviated: bool,
}

fn finish(chaos_runner: &Path, journal: &Path, run_dir: &Path, users: Option<PathBuf>) -> Ended {
    let head = std::fs::read_to_string(journal)
        .ok()
        .and_then(|text| serde_json::from_str::<JournalHead>(&text).ok());
    let Some(head) = head else {
        return Ended {
            status: None,
            deviated: false,
            report: None,
            note: Some("the runner wrote no journal".into()),
        };
    };
    let report = run_dir.join("report.html");
    let mut command = std::process::Command::new(chaos_runner);
    command.arg("report").arg(journal);
    if let Some(users) = users.filter(|u| u.is_file()) {
        command.arg("--traffic").arg(users);
    }
    command.arg("-o").arg(&report);
    let (report, note) = match command.output() {
        Ok(output) if output.status.success() => (Some(report), None),
        Ok(output) => (
            None,
            Some(format!(
                "no report: {}",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("chaos-runner report failed")
            )),
        ),
        Err(err) => (None, Some(format!("no report: {err}"))),
    };
    Ended {
        status: Some(head.status),
        deviated: head.deviated,
        report,
        note,
    }
}

/// How long a run interrupted by the dashboard's end has to finish (its rollbacks
/// included) before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

impl Drop for Experiments {
    /// A run still under way is interrupted as Ctrl-C would (it writes its journal and
    /// plays its rollbacks), then killed if it has not ended within [`STOP_GRACE`]. After
    /// a Ctrl-C at the terminal the runner (in the same process group) got that one
    /// already: a second SIGINT would make it stop hard, so it is only waited for.
    fn drop(&mut self) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(current) = current else { return };
        if current.thread.is_finished() {
            return;
        }
        if crate::interrupt::check().is_ok() {
            for pid in &current.pids {
                if let Some(process) = ProcessId::of(*pid) {
                    process.signal(Signal::SIGINT);
                }
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while !current.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !current.thread.is_finished() {
            for pid in &current.pids {
                if let Some(process) = ProcessId::of(*pid) {
                    process.signal(Signal::SIGKILL);
                }
            }
        }
        let _ = current.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_has_the_local_experiments() {
        let catalogue = Catalogue::shipped();
        assert!(
            catalogue
                .get("local.json")
                .is_some_and(|t| t.contains("stop-provider-service"))
        );
        assert_eq!(catalogue.names().len(), 4);
    }

    #[test]
    fn a_folder_catalogue_takes_its_json_files_and_refuses_odd_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.json"), "{}").unwrap();
        std::fs::write(dir.path().join("a.json"), "{}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let catalogue = Catalogue::from_dir(dir.path()).unwrap();
        assert_eq!(catalogue.names(), ["a.json", "b.json"]);
        std::fs::write(dir.path().join("a b.json"), "{}").unwrap();
        assert!(Catalogue::from_dir(dir.path()).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(Catalogue::from_dir(empty.path()).is_err());
    }
}
