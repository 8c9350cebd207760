//! The lab's state on disk: what runs, where, in which mode.
//!
//! Layout under the state directory (`$LAB_STATE_DIR`, default `./.lab`):
//! `state.json` (this file's [`State`]), `lock` (serialises commands that change the
//! lab), `fault-token` (see `fault_token`; kept by `lab down`), `logs/<service>.log`, `run/<service>.addr` (the bound address a service writes),
//! `demo/` (the demo's experiment copies and journals).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::process::ProcessId;
use crate::service::{Mode, Service};
use crate::targets::TargetKind;

/// One running service as the lab started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    #[serde(flatten)]
    pub process: ProcessId,
    pub port: u16,
    pub log: PathBuf,
    /// Consumer only: the provider URL it was started with (a restart is needed when the
    /// provider moved).
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
}

impl State {
    pub fn new(target: TargetKind, mode: Mode) -> State {
        State {
            target,
            mode,
            ports: BTreeMap::new(),
            services: BTreeMap::new(),
            kubernetes: None,
        }
    }
}

/// The state directory and the files in it.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// An exclusive lock on the state directory, released on drop.
pub struct StateLock {
    _file: File,
}

/// The state file exists but is not a lab state (edited by hand, truncated by a full
/// disk). `lab down` still finds what the lab started: see `process::started_by_lab`.
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

    pub fn addr_file(&self, service: Service) -> PathBuf {
        self.root
            .join("run")
            .join(format!("{}.addr", service.name()))
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
        Ok(StateLock { _file: file })
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

    /// Moves a state file that cannot be read aside (`state.json.corrupt`), keeping it
    /// for a look, and returns where it went.
    pub fn set_aside(&self) -> Result<PathBuf> {
        let from = self.state_file();
        let to = self.root.join("state.json.corrupt");
        fs::rename(&from, &to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
        Ok(to)
    }

    /// Writes the state atomically ([`atomic_file`]: temp file, fsync, rename): a crash
    /// mid-write never leaves a half-written file behind.
    pub fn save(&self, state: &State) -> Result<()> {
        self.create()?;
        let path = self.state_file();
        let text = serde_json::to_string_pretty(state).context("cannot encode the lab state")?;
        atomic_file::write(&path, (text + "\n").as_bytes())?;
        tracing::debug!(path = %path.display(), services = state.services.len(), "state saved");
        Ok(())
    }

    /// Removes `state.json` and the address files; logs and demo journals stay for
    /// reading afterwards.
    pub fn clear(&self) -> Result<()> {
        let path = self.state_file();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("cannot remove {}", path.display()));
            }
        }
        let run = self.root.join("run");
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
        states.save(&sample()).unwrap();
        assert_eq!(states.load().unwrap(), Some(sample()));
        let text = fs::read_to_string(states.state_file()).unwrap();
        assert!(text.contains("\"my-consumer-app\""), "{text}");
        assert!(text.contains("\"start_time\": 7"), "{text}");
        states.clear().unwrap();
        assert_eq!(states.load().unwrap(), None);
        states.clear().unwrap();
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
