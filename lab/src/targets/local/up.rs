//! `lab up` (repair what crashed, start what is missing, restart a consumer in the wrong
//! mode) and `lab fix` / `lab break` (restart the consumer in the other mode).

use anyhow::{Result, bail};

use super::start::provider_url;
use super::{Local, STOP_GRACE, check_target, consumer_url};
use crate::service::{Mode, Service};
use crate::state::State;
use crate::targets::{TargetKind, UpOptions};
use crate::ui;
use std::time::Duration;

impl Local {
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

    pub(super) fn up_locked(&self, options: &UpOptions) -> Result<String> {
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

    pub(super) fn switch_mode_locked(&self, mode: Mode, ready_timeout: Duration) -> Result<()> {
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
