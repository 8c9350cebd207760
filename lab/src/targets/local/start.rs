//! Starting one service: its port, its process (recorded before it is waited for), the
//! address file it writes once bound, and its readiness.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::Local;
use crate::fault_proxy;
use crate::health::{self, WaitError};
use crate::interrupt::{self, Interrupted};
use crate::process::{self, ProcessId};
use crate::service::{Mode, Service};
use crate::state::{FaultProxyRecord, ServiceRecord, State, StateLock};
use crate::ui;

/// The URL the consumer calls the provider at.
pub(super) fn provider_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// What `service` forwards to, as it is started: the consumer calls the provider, through
/// the fault proxy's link when the lab has one; the proxy forwards to the provider.
pub(super) fn upstream_of(state: &State, service: Service) -> Option<String> {
    let provider_port = state.ports.get(&Service::Provider).copied().unwrap_or(0);
    match service {
        Service::Provider => None,
        Service::FaultProxy => Some(format!("127.0.0.1:{provider_port}")),
        Service::Consumer => Some(provider_url(
            state
                .fault_proxy
                .map_or(provider_port, |link| link.link_port),
        )),
    }
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
pub(super) fn log_tail(path: &Path, lines: usize) -> String {
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
    /// Starts one service, records it, and waits until it is ready.
    pub(super) fn start(
        &self,
        lock: &StateLock,
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

        let upstream = upstream_of(state, service);
        let mut args = match service {
            // Toxiproxy's own flags, so the real toxiproxy-server could stand in.
            Service::FaultProxy => {
                let link = state
                    .fault_proxy
                    .context("the lab has no fault proxy link to configure")?;
                let config = self.states.fault_proxy_config();
                let provider_port = state.ports.get(&Service::Provider).copied().unwrap_or(0);
                fault_proxy::write_config(
                    &config,
                    &[fault_proxy::provider_link(link.link_port, provider_port)],
                )?;
                vec![
                    "-host".into(),
                    "127.0.0.1".into(),
                    "-port".into(),
                    port.to_string(),
                    "-config".into(),
                    config.display().to_string(),
                ]
            }
            Service::Provider | Service::Consumer => {
                vec!["--bind".to_string(), format!("127.0.0.1:{port}")]
            }
        };
        args.extend(["--addr-file".into(), addr_file.display().to_string()]);
        match service {
            Service::Provider => {
                args.extend(["--instance-name".into(), service.name().into()]);
            }
            Service::Consumer => {
                args.extend([
                    "--provider-url".into(),
                    upstream.clone().unwrap_or_default(),
                    "--resilience".into(),
                    mode.resilience().into(),
                ]);
                // The resilience settings chosen with `lab consumer set`.
                args.extend(crate::consumer_settings::consumer_args(&self.states)?);
            }
            Service::FaultProxy => {}
        }
        append_log_banner(&log, service, &binary, &args);
        // Informational only (the tests' leak check reads it): what the lab may stop is
        // decided by its own records, never by an inherited variable.
        let state_dir = self.states.root().display().to_string();
        let mut env = vec![("LAB_STATE_DIR", state_dir)];
        if service == Service::Provider {
            // In the environment, not on the command line: `ps` shows arguments to all.
            env.push((crate::fault_token::ENV, self.states.fault_token()?));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut child = process::spawn_detached(&binary, &args, &env, &log)?;
        let Some(process) = ProcessId::of(child.id()) else {
            let how = exit_of(&mut child).unwrap_or_else(|| "vanished".into());
            bail!(
                "{service} {how} right after starting; its log ({}):\n{}",
                log.display(),
                log_tail(&log, 10)
            );
        };
        self.started.track(process);
        lock.record_spawned(service, process)?;
        let mut record = ServiceRecord {
            process,
            port,
            log: log.clone(),
            provider_url: upstream,
            mode: (service == Service::Consumer).then_some(mode),
        };
        state.services.insert(service, record.clone());
        lock.save(state)?;

        let started = Instant::now();
        let spinner = ui::spinner(format!("waiting for {service} to be ready"));
        let waited = self.await_ready(lock, state, service, &mut record, &mut child, ready_timeout);
        if let Some(bar) = spinner {
            bar.finish_and_clear();
        }
        process::reap_in_background(child);
        waited?;
        let detail = match service {
            Service::Provider => String::new(),
            Service::FaultProxy => {
                // Asked for port 0, the proxy chose the link's port: keep it, so a
                // restarted proxy listens where the consumer already calls.
                let api = fault_proxy::api_url(record.port);
                let link_port = fault_proxy::link_port(&health::client()?, &api)?;
                state.fault_proxy = Some(FaultProxyRecord { link_port });
                lock.save(state)?;
                format!(
                    "; its `{}` proxy listens on 127.0.0.1:{link_port}, to the provider",
                    fault_proxy::PROVIDER_PROXY
                )
            }
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
        lock: &StateLock,
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
                    service.ready_url(port),
                    log.display()
                ),
            }
        };
        let bound = wait_bound_port(&addr_file, child, ready_timeout)
            .map_err(|err| explain(err, record.port))?;
        record.port = bound;
        state.ports.insert(service, bound);
        state.services.insert(service, record.clone());
        lock.save(state)?;
        let client = health::client()?;
        let left = ready_timeout.saturating_sub(started.elapsed());
        health::wait_ready(&client, &service.ready_url(bound), left, || exit_of(child))
            .map_err(|err| explain(err, bound))
    }
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
