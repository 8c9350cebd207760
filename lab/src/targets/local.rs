//! The `local` target: provider and consumer as supervised processes on 127.0.0.1.
//!
//! Invariants:
//! - A process is recorded in the state right after it is spawned, before waiting for
//!   readiness, so `lab down` can find it even if this CLI dies mid-way.
//! - A recorded process is only signalled while its pid *and* start time match
//!   ([`ProcessId`]); a pid reused by something else is left alone and the record dropped.
//! - When a command fails or is interrupted, it stops what it started itself and removes
//!   those records; services started by earlier commands keep running.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::health::{self, Probe, WaitError};
use crate::interrupt::{self, Interrupted};
use crate::process::{self, ProcessId};
use crate::service::{Mode, Service};
use crate::state::{ServiceRecord, State, StateDir};
use crate::targets::{Health, ServiceStatus, Target, TargetKind, UpOptions};
use crate::ui;

/// How long a service gets to shut down on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Local {
    states: StateDir,
}

/// The URL the consumer calls the provider at.
fn provider_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// The consumer URL users and experiments call.
pub fn consumer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/invokeConsumedService")
}

/// Fails with the port and the flag to pick another when something already listens there.
fn ensure_port_free(service: Service, port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "port {port} on 127.0.0.1 is already in use, so {service} cannot start there; \
             choose another with `{flag} N` (`{flag} 0` picks a free one) or stop what uses it",
            flag = service.port_flag()
        ),
        Err(err) => Err(err).with_context(|| format!("cannot check whether port {port} is free")),
    }
}

/// The last `lines` lines of a log file, for error messages.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Describes how a child ended, if it did.
fn exit_of(child: &mut Child) -> Option<String> {
    match child.try_wait() {
        Ok(Some(status)) => Some(format!("exited with {status}")),
        Ok(None) => None,
        Err(err) => Some(format!("cannot be watched: {err}")),
    }
}

/// Waits for the address file a service writes after binding and returns its port.
fn wait_bound_port(
    addr_file: &Path,
    child: &mut Child,
    timeout: Duration,
) -> Result<u16, WaitError> {
    let deadline = Instant::now() + timeout;
    loop {
        if interrupt::check().is_err() {
            return Err(WaitError::Interrupted);
        }
        // A complete file ends with a newline (the services write "IP:PORT\n").
        if let Ok(text) = std::fs::read_to_string(addr_file)
            && text.ends_with('\n')
        {
            return text
                .trim()
                .parse::<SocketAddr>()
                .map(|addr| addr.port())
                .map_err(|_| {
                    WaitError::Exited(format!(
                        "wrote {:?} to {}, which is not IP:PORT",
                        text.trim(),
                        addr_file.display()
                    ))
                });
        }
        if let Some(how) = exit_of(child) {
            return Err(WaitError::Exited(how));
        }
        if Instant::now() >= deadline {
            return Err(WaitError::TimedOut(format!(
                "it did not write its address to {}",
                addr_file.display()
            )));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

impl Local {
    pub fn new(states: StateDir) -> Local {
        Local { states }
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

    /// Drops records whose process is gone (crashed, killed from outside, pid reused).
    fn repair(&self, state: &mut State) -> Result<()> {
        let gone: Vec<Service> = state
            .services
            .iter()
            .filter(|(_, record)| !record.process.is_running())
            .map(|(service, _)| *service)
            .collect();
        for service in gone {
            if let Some(record) = state.services.remove(&service) {
                ui::warn(format!(
                    "{service} (pid {}) is no longer running (it crashed or was stopped outside the lab); starting it again",
                    record.process.pid
                ));
            }
        }
        self.states.save(state)
    }

    /// Starts one service, records it, and waits until it is ready.
    fn start(
        &self,
        state: &mut State,
        service: Service,
        port: u16,
        mode: Mode,
        ready_timeout: Duration,
    ) -> Result<()> {
        if port != 0 {
            ensure_port_free(service, port)?;
        }
        let binary = crate::binaries::require(&[service.binary()])?
            .pop()
            .ok_or_else(|| anyhow!("no path for {}", service.binary()))?;
        let log = self.states.log_file(service);
        let addr_file = self.states.addr_file(service);
        match std::fs::remove_file(&addr_file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("cannot remove {}", addr_file.display()));
            }
        }

        let provider_url = provider_url(state.ports.get(&Service::Provider).copied().unwrap_or(0));
        let mut args = vec![
            "--bind".to_string(),
            format!("127.0.0.1:{port}"),
            "--addr-file".into(),
            addr_file.display().to_string(),
        ];
        match service {
            Service::Provider => {
                args.extend(["--instance-name".into(), service.name().into()]);
            }
            Service::Consumer => {
                args.extend([
                    "--provider-url".into(),
                    provider_url.clone(),
                    "--resilience".into(),
                    mode.resilience().into(),
                ]);
            }
        }
        append_log_banner(&log, service, &binary, &args);
        let state_dir = self.states.root().display().to_string();
        let mut child = process::spawn_detached(
            &binary,
            &args,
            &[("LAB_STATE_DIR", state_dir.as_str())],
            &log,
        )?;
        let Some(process) = ProcessId::of(child.id()) else {
            let how = exit_of(&mut child).unwrap_or_else(|| "vanished".into());
            bail!(
                "{service} {how} right after starting; its log ({}):\n{}",
                log.display(),
                log_tail(&log, 10)
            );
        };
        interrupt::track(process);
        let mut record = ServiceRecord {
            process,
            port,
            log: log.clone(),
            provider_url: (service == Service::Consumer).then_some(provider_url),
            mode: (service == Service::Consumer).then_some(mode),
        };
        state.services.insert(service, record.clone());
        self.states.save(state)?;

        let started = Instant::now();
        let spinner = ui::spinner(format!("waiting for {service} to be ready"));
        let waited = self.await_ready(state, service, &mut record, &mut child, ready_timeout);
        if let Some(bar) = spinner {
            bar.finish_and_clear();
        }
        process::reap_in_background(child);
        waited?;
        let detail = match service {
            Service::Provider => String::new(),
            Service::Consumer => format!(", resilience {}: the {mode} system", mode.resilience()),
        };
        ui::info(format!(
            "{service} ready on 127.0.0.1:{} (pid {}{detail}; {:.1} s)",
            record.port,
            process.pid,
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Waits for the bound port (recording it) and then for readiness.
    fn await_ready(
        &self,
        state: &mut State,
        service: Service,
        record: &mut ServiceRecord,
        child: &mut Child,
        ready_timeout: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        let addr_file = self.states.addr_file(service);
        let log = &record.log.clone();
        let explain = |err: WaitError, port: u16| -> anyhow::Error {
            match err {
                WaitError::Interrupted => Interrupted.into(),
                WaitError::Exited(how) => anyhow!(
                    "{service} {how} while starting; last lines of its log ({}):\n{}",
                    log.display(),
                    log_tail(log, 10)
                ),
                WaitError::TimedOut(last) => anyhow!(
                    "{service} was not ready within {:.0} s ({last}, at {}); see its log: {}",
                    ready_timeout.as_secs_f64(),
                    health::ready_url(port),
                    log.display()
                ),
            }
        };
        let bound = wait_bound_port(&addr_file, child, ready_timeout)
            .map_err(|err| explain(err, record.port))?;
        record.port = bound;
        state.ports.insert(service, bound);
        state.services.insert(service, record.clone());
        self.states.save(state)?;
        let client = health::client()?;
        let left = ready_timeout.saturating_sub(started.elapsed());
        health::wait_ready(&client, bound, left, || exit_of(child))
            .map_err(|err| explain(err, bound))
    }

    /// Stops what this invocation started (after a failure or Ctrl-C) and forgets it.
    fn undo_started(&self) {
        let started = interrupt::tracked();
        if started.is_empty() {
            return;
        }
        for process in &started {
            let _ = process.stop(Duration::from_secs(2));
            interrupt::untrack(*process);
        }
        if let Ok(Some(mut state)) = self.states.load() {
            state
                .services
                .retain(|_, record| !started.contains(&record.process));
            let _ = self.states.save(&state);
        }
        ui::warn("stopped the services this command had started");
    }

    /// Runs `body` with the state locked. On failure it stops everything it started (a
    /// half-started lab is worse than none); on success the new services are handed over
    /// to run in the background.
    fn changing<T>(&self, body: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        let lock = self.states.lock()?;
        let result = body(self);
        match &result {
            Ok(_) => interrupt::tracked()
                .into_iter()
                .for_each(interrupt::hand_over),
            Err(_) => self.undo_started(),
        }
        drop(lock);
        result
    }

    fn up_locked(&self, options: &UpOptions) -> Result<String> {
        let mut state = match self.states.load()? {
            Some(state) => {
                check_target(&state)?;
                state
            }
            None => State::new(TargetKind::Local, options.mode.unwrap_or_default()),
        };
        self.repair(&mut state)?;
        let mode = options.mode.unwrap_or(state.mode);
        state.mode = mode;

        for service in Service::ALL {
            let requested = match service {
                Service::Provider => options.provider_port,
                Service::Consumer => options.consumer_port,
            };
            if let (Some(record), Some(port)) = (state.services.get(&service), requested)
                && port != 0
                && port != record.port
            {
                bail!(
                    "{service} already runs on port {}; run `lab down` first to move it to port {port}",
                    record.port
                );
            }
            if !state.services.contains_key(&service) {
                let port = requested
                    .or_else(|| state.ports.get(&service).copied())
                    .unwrap_or_else(|| service.default_port());
                state.ports.insert(service, port);
            }
        }

        // Provider first: the consumer is told where it is.
        if let Some(record) = state.services.get(&Service::Provider) {
            ui::info(format!(
                "{} already running on 127.0.0.1:{} (pid {})",
                Service::Provider,
                record.port,
                record.process.pid
            ));
        } else {
            let port = state.ports[&Service::Provider];
            ui::info(format!(
                "starting {} on 127.0.0.1:{port}",
                Service::Provider
            ));
            self.start(
                &mut state,
                Service::Provider,
                port,
                mode,
                options.ready_timeout,
            )?;
        }

        let wanted_provider_url = provider_url(state.ports[&Service::Provider]);
        match state.services.get(&Service::Consumer).cloned() {
            Some(record)
                if record.mode == Some(mode)
                    && record.provider_url.as_deref() == Some(wanted_provider_url.as_str()) =>
            {
                ui::info(format!(
                    "{} already running on 127.0.0.1:{} (pid {}, the {mode} system)",
                    Service::Consumer,
                    record.port,
                    record.process.pid
                ));
            }
            Some(record) => {
                ui::info(format!(
                    "restarting {} as the {mode} system (resilience {})",
                    Service::Consumer,
                    mode.resilience()
                ));
                record.process.stop(STOP_GRACE)?;
                state.services.remove(&Service::Consumer);
                self.states.save(&state)?;
                self.start(
                    &mut state,
                    Service::Consumer,
                    record.port,
                    mode,
                    options.ready_timeout,
                )?;
            }
            None => {
                let port = state.ports[&Service::Consumer];
                ui::info(format!(
                    "starting {} on 127.0.0.1:{port} (resilience {}: the {mode} system)",
                    Service::Consumer,
                    mode.resilience()
                ));
                self.start(
                    &mut state,
                    Service::Consumer,
                    port,
                    mode,
                    options.ready_timeout,
                )?;
            }
        }
        self.states.save(&state)?;
        Ok(consumer_url(state.ports[&Service::Consumer]))
    }

    fn switch_mode_locked(&self, mode: Mode, ready_timeout: Duration) -> Result<()> {
        let mut state = self.existing_state()?;
        self.repair(&mut state)?;
        state.mode = mode;
        let port = match state.services.remove(&Service::Consumer) {
            Some(record) => {
                ui::info(format!(
                    "stopping {} (pid {}, the {} system)",
                    Service::Consumer,
                    record.process.pid,
                    record.mode.unwrap_or_default()
                ));
                record.process.stop(STOP_GRACE)?;
                record.port
            }
            None => state
                .ports
                .get(&Service::Consumer)
                .copied()
                .unwrap_or_else(|| Service::Consumer.default_port()),
        };
        state.ports.insert(Service::Consumer, port);
        self.states.save(&state)?;
        ui::info(format!(
            "starting {} with resilience {} (the {mode} system)",
            Service::Consumer,
            mode.resilience()
        ));
        self.start(&mut state, Service::Consumer, port, mode, ready_timeout)?;
        if !state.services.contains_key(&Service::Provider) {
            ui::info(format!(
                "{} is not running; bring it back with `lab up`",
                Service::Provider
            ));
        }
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

/// A line in the service's log marking where this start begins.
fn append_log_banner(log: &Path, service: Service, binary: &Path, args: &[String]) {
    if let Ok(mut file) = std::fs::File::options().create(true).append(true).open(log) {
        let _ = writeln!(
            file,
            "---- lab: starting {service}: {} {}",
            binary.display(),
            args.join(" ")
        );
    }
}

impl Target for Local {
    fn up(&mut self, options: &UpOptions) -> Result<String> {
        self.changing(|local| local.up_locked(options))
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
                };
                if record.process.is_running() {
                    match health::probe(&client, record.port) {
                        Probe::Ready(body) => {
                            row.health = Health::Ready;
                            if let Some(body) = body.filter(|_| *service == Service::Consumer) {
                                row.mode = match body.resilience.as_deref() {
                                    Some("on") => Some(Mode::After),
                                    Some("off") => Some(Mode::Before),
                                    _ => row.mode,
                                };
                                row.circuit = body.circuit;
                            }
                        }
                        Probe::NotReady(reason) => row.health = Health::Unhealthy(reason),
                    }
                }
                row
            })
            .collect();
        Ok(Some(rows))
    }

    fn kill(&mut self, service: Service) -> Result<()> {
        let _lock = self.states.lock()?;
        let mut state = self.existing_state()?;
        let Some(record) = state.services.remove(&service) else {
            bail!("{service} is not running in this lab, so there is nothing to kill");
        };
        record.process.kill_now()?;
        self.states.save(&state)?;
        ui::info(format!(
            "killed {service} (pid {}) with SIGKILL; it stays down until `lab up`",
            record.process.pid
        ));
        Ok(())
    }

    fn switch_mode(&mut self, mode: Mode, ready_timeout: Duration) -> Result<()> {
        self.changing(|local| local.switch_mode_locked(mode, ready_timeout))
    }

    fn logs(&self, service: Service, follow: bool) -> Result<()> {
        let path = self.states.log_file(service);
        let mut file = std::fs::File::open(&path).with_context(|| {
            format!(
                "no log for {service} at {}; it has not been started in this lab",
                path.display()
            )
        })?;
        let mut out = std::io::stdout().lock();
        let mut position = std::io::copy(&mut file, &mut out)
            .with_context(|| format!("cannot read {}", path.display()))?;
        out.flush()?;
        if !follow {
            return Ok(());
        }
        // Follow until the service is no longer part of the running lab (like
        // `kubectl logs -f` ending with its pod) or the user presses Ctrl-C.
        let mut last_check = Instant::now();
        loop {
            if interrupt::check().is_err() {
                return Ok(());
            }
            file.seek(SeekFrom::Start(position))?;
            let mut chunk = Vec::new();
            file.read_to_end(&mut chunk)?;
            if !chunk.is_empty() {
                out.write_all(&chunk)?;
                out.flush()?;
                position += chunk.len() as u64;
            } else if last_check.elapsed() >= Duration::from_millis(500) {
                last_check = Instant::now();
                let running = self
                    .states
                    .load()
                    .ok()
                    .flatten()
                    .and_then(|state| state.services.get(&service).cloned())
                    .is_some_and(|record| record.process.is_running());
                if !running {
                    return Ok(());
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
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

    fn down(&mut self) -> Result<()> {
        let _lock = self.states.lock()?;
        let Some(state) = self.states.load()? else {
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
        self.states.clear()?;
        ui::info(format!(
            "the lab is down (logs kept in {})",
            self.states.root().join("logs").display()
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_use_names_the_port_and_the_flag() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = holder.local_addr().unwrap().port();
        let err = ensure_port_free(Service::Consumer, port)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("port {port} on 127.0.0.1 is already in use")),
            "{err}"
        );
        assert!(err.contains("--consumer-port"), "{err}");
        drop(holder);
        ensure_port_free(Service::Consumer, port).unwrap();
    }

    #[test]
    fn urls_point_at_loopback() {
        assert_eq!(
            consumer_url(8081),
            "http://127.0.0.1:8081/invokeConsumedService"
        );
        assert_eq!(provider_url(8080), "http://127.0.0.1:8080/");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        std::fs::write(&log, "1\n2\n3\n4\n").unwrap();
        assert_eq!(log_tail(&log, 2), "    3\n    4");
        assert_eq!(log_tail(&dir.path().join("missing"), 2), "");
    }
}
