//! The lab's state on disk: what runs, where, in which mode.
//!
//! Layout under the state directory (`$LAB_STATE_DIR`, default `./.lab`):
//! `state.json` (this file's [`State`]), `lock` (serialises commands that change the
//! lab), `fault-token` (see `fault_token`; kept by `lab down`), `logs/<service>.log`,
//! `run/<service>.addr` (the bound address a service writes), `run/<service>.pid` (the
//! identity of the process the lab spawned for it, apart from `state.json`), `demo/` (the
//! demo's experiment copies and journals).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::process::ProcessId;
use crate::service::{Mode, Service};
use crate::target_kind::TargetKind;

/// One running service as the lab started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    #[serde(flatten)]
    pub process: ProcessId,
    pub port: u16,
    pub log: PathBuf,
    /// Consumer and fault proxy: the upstream it was started with (the consumer's
    /// provider URL, the proxy link's provider address); a restart is needed when it
    /// moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_url: Option<String>,
    /// Consumer only: the mode it runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// Everything `state.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub target: TargetKind,
    /// The mode the lab is in (the consumer follows it).
    pub mode: Mode,
    /// Ports chosen for each service; kept after `lab kill` so the service comes back on
    /// the port the consumer already calls.
    pub ports: BTreeMap<Service, u16>,
    /// Services that should be running. `lab kill` removes an entry (like deleting a
    /// Deployment); a crashed service stays listed and shows as unhealthy.
    pub services: BTreeMap<Service, ServiceRecord>,
    /// Kubernetes targets only: where the lab was deployed, so later commands find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesRecord>,
    /// Local target: the lab runs the fault proxy between consumer and provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_proxy: Option<FaultProxyRecord>,
}

/// The fault proxy's link to the provider (its API port is in `ports`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultProxyRecord {
    /// Where the `provider` proxy listens on 127.0.0.1 (the consumer calls it); 0 until
    /// the proxy has chosen one, then kept across restarts.
    pub link_port: u16,
}

/// Where a Kubernetes lab lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesRecord {
    pub namespace: String,
    /// The kubeconfig context used (`None`: the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<String>,
    /// The experiment `lab up --experiment` rewrote; later `lab up`s rewrite it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<PathBuf>,
    /// The fault proxy runs between consumer and provider (`lab up --fault-proxy`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fault_proxy: bool,
}

impl State {
    pub fn new(target: TargetKind, mode: Mode) -> State {
        State {
            target,
            mode,
            ports: BTreeMap::new(),
            services: BTreeMap::new(),
            kubernetes: None,
            fault_proxy: None,
        }
    }
}

/// The state directory and the files in it.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// An exclusive lock on the state directory, released on drop. Every change to the
/// lab's records (`state.json`, `run/`) is a method of this guard, so the compiler
/// enforces that state changes only under its lock.
pub struct StateLock {
    _file: File,
    dir: StateDir,
}

/// The state file exists but is not a lab state (edited by hand, truncated by a full
/// disk). `lab down` still finds what the lab started: see [`StateDir::spawned`].
#[derive(Debug, thiserror::Error)]
#[error("{} is not a valid lab state file ({reason}); `lab down` stops what this lab started and sets the file aside", path.display())]
pub struct Corrupt {
    pub path: PathBuf,
    pub reason: String,
}

impl StateDir {
    /// `$LAB_STATE_DIR`, else `./.lab`; made absolute so children and messages agree.
    pub fn from_env() -> Result<StateDir> {
        let root = match std::env::var_os("LAB_STATE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(".lab"),
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .context("cannot read the current directory")?
                .join(root)
        };
        Ok(StateDir { root })
    }

    #[cfg(test)]
    pub fn at(root: &Path) -> StateDir {
        StateDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when `err` (from [`StateDir::load`]) says the state file is not valid.
    pub fn is_corrupt(err: &anyhow::Error) -> bool {
        err.is::<Corrupt>()
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    pub fn log_file(&self, service: Service) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{}.log", service.name()))
    }

    /// The fault proxy's `-config` file (Toxiproxy's format), rewritten at each start.
    pub fn fault_proxy_config(&self) -> PathBuf {
        self.root.join("run").join("fault-proxy.json")
    }

    pub fn addr_file(&self, service: Service) -> PathBuf {
        self.root
            .join("run")
            .join(format!("{}.addr", service.name()))
    }

    /// Where the identity of the process spawned for `service` is kept, apart from
    /// `state.json`, so a lab whose state file is spoilt still knows exactly which
    /// processes are its own.
    fn process_file(&self, service: Service) -> PathBuf {
        self.root
            .join("run")
            .join(format!("{}.pid", service.name()))
    }

    /// The processes this lab spawned, as recorded by [`StateLock::record_spawned`], that
    /// still run: the same pid *and* start time, so a reused pid is never taken for one.
    /// Nothing else is ever the lab's: not even a process that carries `LAB_STATE_DIR`,
    /// which any shell may export.
    pub fn spawned(&self) -> Vec<(Service, ProcessId)> {
        Service::ALL
            .into_iter()
            .filter_map(|service| {
                let text = fs::read_to_string(self.process_file(service)).ok()?;
                let process: ProcessId = serde_json::from_str(&text).ok()?;
                process.is_running().then_some((service, process))
            })
            .collect()
    }

    /// The provider's fault token, made on first use (see `fault_token`).
    pub fn fault_token(&self) -> Result<String> {
        self.create()?;
        crate::fault_token::read_or_create(&self.root.join("fault-token"))
    }

    /// The fault token, if one was made.
    pub fn existing_fault_token(&self) -> Result<Option<String>> {
        crate::fault_token::read(&self.root.join("fault-token"))
    }

    pub fn demo_dir(&self) -> PathBuf {
        self.root.join("demo")
    }

    /// Creates the directory tree (idempotent).
    pub fn create(&self) -> Result<()> {
        for dir in [
            self.root.clone(),
            self.root.join("logs"),
            self.root.join("run"),
        ] {
            fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        }
        Ok(())
    }

    /// Takes the exclusive lock, so two commands never change the lab at once (e.g. a
    /// `lab kill` from an experiment while `lab up` is still recording its processes).
    pub fn lock(&self) -> Result<StateLock> {
        self.create()?;
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(StateLock {
            _file: file,
            dir: self.clone(),
        })
    }

    /// The recorded state, or `None` when no lab was brought up here.
    pub fn load(&self) -> Result<Option<State>> {
        let path = self.state_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let state = serde_json::from_str(&text).map_err(|err| Corrupt {
            path: path.clone(),
            reason: err.to_string(),
        })?;
        Ok(Some(state))
    }
}

impl StateLock {
    /// Records that the lab spawned `process` for `service` (atomically). Written right
    /// after the spawn, before anything else can fail.
    pub fn record_spawned(&self, service: Service, process: ProcessId) -> Result<()> {
        self.dir.create()?;
        let path = self.dir.process_file(service);
        let text = serde_json::to_string(&process).context("cannot encode a process record")?;
        atomic_file::write(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Writes the state atomically ([`atomic_file`]: temp file, fsync, rename): a crash
    /// mid-write never leaves a half-written file behind.
    pub fn save(&self, state: &State) -> Result<()> {
        self.dir.create()?;
        let path = self.dir.state_file();
        let text = serde_json::to_string_pretty(state).context("cannot encode the lab state")?;
        atomic_file::write(&path, (text + "\n").as_bytes())?;
        tracing::debug!(path = %path.display(), services = state.services.len(), "state saved");
        Ok(())
    }

    /// Moves a state file that cannot be read aside (`state.json.corrupt`), keeping it
    /// for a look, and returns where it went.
    pub fn set_aside(&self) -> Result<PathBuf> {
        let from = self.dir.state_file();
        let to = self.dir.root.join("state.json.corrupt");
        fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
        Ok(to)
    }

    /// Removes `state.json`, the address and process files; logs and demo journals stay
    /// for reading afterwards.
    pub fn clear(&self) -> Result<()> {
        let path = self.dir.state_file();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("cannot remove {}", path.display()));
            }
        }
        let run = self.dir.root.join("run");
        if run.exists() {
            fs::remove_dir_all(&run).with_context(|| format!("cannot remove {}", run.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut state = State::new(TargetKind::Local, Mode::After);
        state.ports.insert(Service::Provider, 8080);
        state.services.insert(
            Service::Consumer,
            ServiceRecord {
                process: ProcessId {
                    pid: 42,
                    start_time: 7,
                },
                port: 8081,
                log: PathBuf::from("/tmp/c.log"),
                provider_url: Some("http://127.0.0.1:8080/".into()),
                mode: Some(Mode::After),
            },
        );
        state
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::at(dir.path());
        assert_eq!(states.load().unwrap(), None);
        let lock = states.lock().unwrap();
        lock.save(&sample()).unwrap();
        assert_eq!(states.load().unwrap(), Some(sample()));
        let text = fs::read_to_string(states.state_file()).unwrap();
        assert!(text.contains("\"my-consumer-app\""), "{text}");
        assert!(text.contains("\"start_time\": 7"), "{text}");
        lock.clear().unwrap();
        assert_eq!(states.load().unwrap(), None);
        lock.clear().unwrap();
    }

    #[test]
    fn spawned_lists_only_recorded_processes_that_still_run() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::at(dir.path());
        assert!(states.spawned().is_empty());
        let me = ProcessId::of(std::process::id()).unwrap();
        let lock = states.lock().unwrap();
        lock.record_spawned(Service::Consumer, me).unwrap();
        // A record whose start time does not match (its pid reused) is not the lab's.
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        lock.record_spawned(Service::Provider, reused).unwrap();
        assert_eq!(states.spawned(), vec![(Service::Consumer, me)]);
        fs::write(states.process_file(Service::Consumer), "{garbage").unwrap();
        assert!(
            states.spawned().is_empty(),
            "an unreadable record is nobody"
        );
        lock.clear().unwrap();
        assert!(!states.process_file(Service::Provider).exists());
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::at(dir.path());
        states.create().unwrap();
        fs::write(states.state_file(), "{not json").unwrap();
        let err = format!("{:#}", states.load().unwrap_err());
        assert!(
            err.contains("state.json is not a valid lab state file"),
            "{err}"
        );
    }
}
