//! `lab up` (repair what crashed, start what is missing, restart a consumer in the wrong
//! mode) and `lab fix` / `lab break` (restart the consumer in the other mode).

use anyhow::{Result, bail};

use super::start::upstream_of;
use super::{Local, STOP_GRACE, check_target, consumer_url};
use crate::fault_proxy;
use crate::service::{Mode, Service};
use crate::state::{FaultProxyRecord, State, StateLock};
use crate::targets::{TargetKind, UpOptions};
use crate::ui;
use std::time::Duration;

impl Local {
    /// Drops records whose process is gone (crashed, killed from outside, pid reused).
    fn repair(&self, lock: &StateLock, state: &mut State) -> Result<()> {
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
        lock.save(state)
    }

    pub(super) fn up_locked(&self, lock: &StateLock, options: &UpOptions) -> Result<String> {
        let mut state = match self.states.load()? {
            Some(state) => {
                check_target(&state)?;
                state
            }
            None => State::new(TargetKind::Local, options.mode.unwrap_or_default()),
        };
        self.repair(lock, &mut state)?;
        let mode = options.mode.unwrap_or(state.mode);
        state.mode = mode;
        match options.fault_proxy {
            Some(true) if state.fault_proxy.is_none() => {
                state.fault_proxy = Some(FaultProxyRecord {
                    link_port: options
                        .fault_proxy_link_port
                        .unwrap_or(fault_proxy::DEFAULT_LINK_PORT),
                });
            }
            Some(false) => self.remove_fault_proxy(lock, &mut state)?,
            _ => {}
        }
        let wanted = Service::of_lab(state.fault_proxy.is_some());

        for &service in &wanted {
            let requested = match service {
                Service::Provider => options.provider_port,
                Service::FaultProxy => options.fault_proxy_port,
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

        // In start order: each is told where what it calls runs. A service whose
        // upstream moved (or a consumer in the other mode) is restarted.
        for service in wanted {
            let upstream = upstream_of(&state, service);
            match state.services.get(&service).cloned() {
                Some(record)
                    if record.provider_url == upstream
                        && (service != Service::Consumer || record.mode == Some(mode)) =>
                {
                    let detail = match service {
                        Service::Consumer => format!(", the {mode} system"),
                        _ => String::new(),
                    };
                    ui::info(format!(
                        "{service} already running on 127.0.0.1:{} (pid {}{detail})",
                        record.port, record.process.pid
                    ));
                }
                Some(record) => {
                    let why = match service {
                        Service::Consumer if record.mode != Some(mode) => {
                            format!("as the {mode} system (resilience {})", mode.resilience())
                        }
                        _ => format!("to reach {}", upstream.as_deref().unwrap_or("?")),
                    };
                    ui::info(format!("restarting {service} {why}"));
                    record.process.stop(STOP_GRACE)?;
                    state.services.remove(&service);
                    lock.save(&state)?;
                    self.start(
                        lock,
                        &mut state,
                        service,
                        record.port,
                        mode,
                        options.ready_timeout,
                    )?;
                }
                None => {
                    let port = state.ports[&service];
                    let detail = match service {
                        Service::Consumer => {
                            format!(" (resilience {}: the {mode} system)", mode.resilience())
                        }
                        _ => String::new(),
                    };
                    ui::info(format!("starting {service} on 127.0.0.1:{port}{detail}"));
                    self.start(lock, &mut state, service, port, mode, options.ready_timeout)?;
                }
            }
        }
        lock.save(&state)?;
        Ok(consumer_url(state.ports[&Service::Consumer]))
    }

    /// `lab up --no-fault-proxy`: stops the proxy and forgets its link (the consumer is
    /// then restarted to call the provider directly).
    fn remove_fault_proxy(&self, lock: &StateLock, state: &mut State) -> Result<()> {
        if let Some(record) = state.services.remove(&Service::FaultProxy) {
            ui::info(format!(
                "stopping {} (pid {})",
                Service::FaultProxy,
                record.process.pid
            ));
            record.process.stop(STOP_GRACE)?;
        }
        state.fault_proxy = None;
        state.ports.remove(&Service::FaultProxy);
        lock.save(state)
    }

    pub(super) fn switch_mode_locked(
        &self,
        lock: &StateLock,
        mode: Mode,
        ready_timeout: Duration,
    ) -> Result<()> {
        let mut state = self.existing_state()?;
        self.repair(lock, &mut state)?;
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
        lock.save(&state)?;
        ui::info(format!(
            "starting {} with resilience {} (the {mode} system)",
            Service::Consumer,
            mode.resilience()
        ));
        self.start(
            lock,
            &mut state,
            Service::Consumer,
            port,
            mode,
            ready_timeout,
        )?;
        if !state.services.contains_key(&Service::Provider) {
            ui::info(format!(
                "{} is not running; bring it back with `lab up`",
                Service::Provider
            ));
        }
        Ok(())
    }
}
