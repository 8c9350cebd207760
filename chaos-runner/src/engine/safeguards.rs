//! `chaosaddons.controls.safeguards`, natively: probes that watch the system while the
//! experiment runs and stop it when one is out of its tolerance.
//!
//! As in chaosaddons: a probe with a `frequency` (seconds) runs repeatedly, one with
//! `background: true` runs once in the background, any other runs once before the
//! experiment starts, and the experiment waits for those pre-checks. Unlike it, a
//! repeating probe is checked as soon as it has run (chaosaddons checks it after its
//! wait), and a probe that fails to run counts as out of tolerance.

use super::context::RunContext;
use super::tolerance::within_tolerance;
use crate::activity::Entry;
use crate::config::substitute;
use crate::tolerance::Tolerance;
use serde_json::Value;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The running safeguards of one control.
#[derive(Debug)]
pub struct Guardian {
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout`; true when stopped meanwhile.
    fn wait(&self, timeout: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, timeout, |s| !*s)
            .unwrap_or_else(|p| p.into_inner());
        *stopped
    }
}

impl Guardian {
    /// Starts the safeguards; returns once the pre-check probes have run.
    pub fn start(probes: &[Entry], ctx: &Arc<RunContext>) -> Guardian {
        let stop = Arc::new(Stop::default());
        let mut threads = Vec::new();
        let mut prechecks = Vec::new();
        for probe in probes {
            let probe = probe.clone();
            let fields = probe.as_ref().map(|p| &p.fields).ok();
            let frequency = fields
                .and_then(|f| f.frequency.as_ref())
                .and_then(Value::as_f64)
                .filter(|f| *f > 0.0)
                .and_then(|f| crate::duration::from_seconds(f).ok());
            let background = probe.as_ref().is_ok_and(|p| p.background);
            let (ctx, stop) = (Arc::clone(ctx), Arc::clone(&stop));
            let handle = std::thread::spawn(move || match frequency {
                Some(every) => loop {
                    if !healthy(&probe, &ctx, &stop) || stop.wait(every) {
                        break;
                    }
                },
                None => {
                    healthy(&probe, &ctx, &stop);
                }
            });
            if frequency.is_some() || background {
                threads.push(handle);
            } else {
                prechecks.push(handle);
            }
        }
        for handle in prechecks {
            let _ = handle.join();
        }
        Guardian { stop, threads }
    }

    /// Stops the repeating safeguards and waits for every one to end.
    pub fn stop(self) {
        *self.stop.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.wake.notify_all();
        for handle in self.threads {
            let _ = handle.join();
        }
    }
}

/// Runs one safeguard probe; when it is out of its tolerance (or fails to run) while
/// the experiment still runs, interrupts the run. True when healthy.
fn healthy(probe: &Entry, ctx: &RunContext, stop: &Stop) -> bool {
    let name = probe.as_ref().map_or("", |p| p.name.as_str());
    let cancel = ctx.controls.cancel();
    let within = match probe {
        Ok(activity) => match activity.run_provider(&ctx.provider(cancel)) {
            Ok(output) => {
                let mut tolerance = activity.tolerance.clone().unwrap_or(Value::Null);
                if tolerance.is_string() {
                    tolerance = substitute(&tolerance, &ctx.configuration, &ctx.secrets);
                }
                within_tolerance(
                    &Tolerance::from_value(&tolerance),
                    &output.into_value(),
                    &ctx.provider(cancel),
                )
                .unwrap_or(false)
            }
            Err(e) => {
                tracing::debug!("Safeguard '{name}' failed: {e}");
                false
            }
        },
        Err(_) => false,
    };
    if !within && !stop.is_set() && !cancel.is_cancelled() {
        ctx.controls.interrupt(format!(
            "Safeguard '{name}' triggered the end of the experiment"
        ));
    }
    within
}
