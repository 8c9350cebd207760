//! The `local` target: provider and consumer as supervised processes on 127.0.0.1.
//!
//! `impl Local` is split by concern, one file each: this file holds the value, the
//! locking ([`Local::changing`]: the state lock's guard is what every state change
//! needs), the [`Target`] commands that change little (`status`, `kill`, `down`, the
//! reads) and the rules below; `up` the commands that reconcile the lab with what was
//! asked (`lab up`, `lab fix`/`lab break`); `start` one service's start and readiness.
//! `logs` prints and follows a log (no `Local` needed).
//!
//! Invariants:
//! - A process is recorded in the state right after it is spawned, before waiting for
//!   readiness, so `lab down` can find it even if this CLI dies mid-way.
//! - A recorded process is only signalled while its pid *and* start time match
//!   ([`ProcessId`]); a pid reused by something else is left alone and the record dropped.
//! - When a command fails or is interrupted, it stops what it started itself and removes
//!   those records; services started by earlier commands keep running.

mod logs;
mod start;
mod up;

use std::time::Duration;

use anyhow::{Context, Result, bail};

use self::start::consumer_url;
use crate::fault_proxy;
use crate::health::{self, Probe};
use crate::interrupt::Started;
use crate::service::{Mode, Service};
use crate::state::{State, StateDir, StateLock};
use crate::targets::{DownOptions, Health, ServiceStatus, Target, TargetKind, UpOptions};
use crate::ui;

/// How long a service gets to shut down on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Local {
    states: StateDir,
    /// What this command started (stopped again if the command fails).
    started: Started,
}

impl Local {
    pub fn new(states: StateDir, started: Started) -> Local {
        Local { states, started }
    }

    /// The state of an existing lab on this target, or an error saying how to start one.
    fn existing_state(&self) -> Result<State> {
        match self.states.load()? {
            Some(state) => {
                check_target(&state)?;
                Ok(state)
            }
            None => bail!(
                "no lab is running (no state in {}); start one with `lab up`",
                self.states.root().display()
            ),
        }
    }

    /// Stops what this invocation started (after a failure or Ctrl-C) and forgets it.
    fn undo_started(&self, lock: &StateLock) {
        let started = self.started.tracked();
        if started.is_empty() {
            return;
        }
        for process in &started {
            let _ = process.stop(Duration::from_secs(2));
            self.started.untrack(*process);
        }
        if let Ok(Some(mut state)) = self.states.load() {
            state
                .services
                .retain(|_, record| !started.contains(&record.process));
            let _ = lock.save(&state);
        }
        ui::warn("stopped the services this command had started");
    }

    /// Runs `body` with the state locked. On failure it stops everything it started (a
    /// half-started lab is worse than none); on success the new services are handed over
    /// to run in the background.
    fn changing<T>(&self, body: impl FnOnce(&Self, &StateLock) -> Result<T>) -> Result<T> {
        let lock = self.states.lock()?;
        let result = body(self, &lock);
        match &result {
            Ok(_) => self.started.hand_over(),
            Err(_) => self.undo_started(&lock),
        }
        drop(lock);
        result
    }

    /// `lab down` when the state file cannot be read: the processes this lab spawned are
    /// still known by their own records (`run/<service>.pid`: pid and start time) and
    /// stopped; nothing else is touched. The file is set aside.
    fn down_without_state(&self, lock: &StateLock, why: &anyhow::Error) -> Result<()> {
        ui::warn(format!("{why:#}"));
        for (service, process) in self.states.spawned() {
            process.stop(STOP_GRACE)?;
            ui::info(format!(
                "stopped {service} (pid {}, as this lab recorded it when it started it)",
                process.pid
            ));
        }
        let kept = lock.set_aside()?;
        lock.clear()?;
        ui::info(format!(
            "the lab is down; the unreadable state file is kept as {}",
            kept.display()
        ));
        Ok(())
    }
}

fn check_target(state: &State) -> Result<()> {
    if state.target != TargetKind::Local {
        bail!(
            "the lab here runs on target `{}`; use `--target {}` or `lab down --target {}` first",
            state.target,
            state.target,
            state.target
        );
    }
    Ok(())
}

impl Target for Local {
    fn up(&mut self, options: &UpOptions) -> Result<String> {
        self.changing(|local, lock| local.up_locked(lock, options))
    }

    fn status(&self) -> Result<Option<Vec<ServiceStatus>>> {
        let Some(state) = self.states.load()? else {
            return Ok(None);
        };
        check_target(&state)?;
        let client = health::client()?;
        let rows = state
            .services
            .iter()
            .map(|(service, record)| {
                let mut row = ServiceStatus {
                    service: *service,
                    pid: Some(record.process.pid),
                    port: record.port,
                    health: Health::Exited,
                    mode: record.mode,
                    circuit: None,
                    faults: None,
                    pods: Vec::new(),
                };
                if record.process.is_running() {
                    match health::probe_url(&client, &service.ready_url(record.port)) {
                        Probe::Ready(body) => {
                            row.health = Health::Ready;
                            if let Some(body) = body.filter(|_| *service == Service::Consumer) {
                                row.mode = body
                                    .resilience
                                    .as_deref()
                                    .and_then(Mode::from_resilience)
                                    .or(row.mode);
                                row.circuit = body.circuit;
                            }
                        }
                        Probe::NotReady(reason) => row.health = Health::Unhealthy(reason),
                    }
                }
                if *service == Service::FaultProxy && row.health.is_ready() {
                    let api = fault_proxy::api_url(record.port);
                    row.faults =
                        Some(fault_proxy::proxies(&client, &api).map_err(|err| format!("{err:#}")));
                }
                row
            })
            .collect();
        Ok(Some(rows))
    }

    fn kill(&mut self, service: Service) -> Result<()> {
        let lock = self.states.lock()?;
        let mut state = self.existing_state()?;
        let Some(record) = state.services.remove(&service) else {
            bail!("{service} is not running in this lab, so there is nothing to kill");
        };
        if !record.process.is_running() {
            // Its pid may belong to another process by now: that one is left alone.
            lock.save(&state)?;
            ui::warn(format!(
                "{service} (pid {}) was no longer running (it exited, or its pid now belongs \
                 to another process, which was left alone); removed it from the lab",
                record.process.pid
            ));
            return Ok(());
        }
        record.process.kill_now()?;
        lock.save(&state)?;
        ui::info(format!(
            "killed {service} (pid {}) with SIGKILL; it stays down until `lab up`",
            record.process.pid
        ));
        Ok(())
    }

    fn switch_mode(&mut self, mode: Mode, ready_timeout: Duration) -> Result<()> {
        self.changing(|local, lock| local.switch_mode_locked(lock, mode, ready_timeout))
    }

    fn logs(&self, service: Service, follow: bool) -> Result<()> {
        logs::print(&self.states, service, follow)
    }

    fn consumer_url(&self) -> Result<String> {
        let state = self.existing_state()?;
        let port = state
            .services
            .get(&Service::Consumer)
            .map(|record| record.port)
            .or_else(|| state.ports.get(&Service::Consumer).copied())
            .context("the lab has no consumer; start it with `lab up`")?;
        Ok(consumer_url(port))
    }

    fn fault_token(&self) -> Result<String> {
        self.states.existing_fault_token()?.with_context(|| {
            format!(
                "this lab has no fault token yet (none in {}); `lab up` makes one",
                self.states.root().display()
            )
        })
    }

    fn fault_proxy_url(&self) -> Result<String> {
        let state = self.existing_state()?;
        match (state.fault_proxy, state.ports.get(&Service::FaultProxy)) {
            (Some(_), Some(port)) => Ok(fault_proxy::api_url(*port)),
            _ => bail!(
                "this lab has no fault proxy; `lab up --fault-proxy` puts one between the \
                 consumer and the provider"
            ),
        }
    }

    fn down(&mut self, _options: &DownOptions) -> Result<()> {
        let lock = self.states.lock()?;
        let loaded = match self.states.load() {
            Err(err) if StateDir::is_corrupt(&err) => return self.down_without_state(&lock, &err),
            loaded => loaded?,
        };
        let Some(state) = loaded else {
            ui::info("no lab is running; nothing to stop");
            return Ok(());
        };
        // The consumer first, so it never sees its provider vanish during shutdown.
        for (service, record) in state.services.iter().rev() {
            if record.process.is_running() {
                record.process.stop(STOP_GRACE)?;
                ui::info(format!("stopped {service} (pid {})", record.process.pid));
            } else {
                ui::info(format!(
                    "{service} (pid {}) was no longer running",
                    record.process.pid
                ));
            }
        }
        lock.clear()?;
        ui::info(format!(
            "the lab is down (logs kept in {})",
            self.states.root().join("logs").display()
        ));
        Ok(())
    }
}
