//! Ctrl-C (and SIGTERM) while the lab is starting things.
//!
//! The first signal sets a flag; every wait loop of the lab checks it and unwinds, and
//! the command then stops what *this invocation* started ([`Started`]) and cleans the
//! state. If that takes too long, or a second signal arrives, the processes this
//! invocation started are killed outright and the CLI exits. Services started by earlier
//! commands are never touched: they are background services on purpose.
//!
//! The flag is process-wide because signals are; what was started is a value the command
//! owns and hands to the handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::process::ProcessId;

/// The exit status after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_CODE: i32 = 130;

/// How long the cooperative clean-up may take before the hard stop.
const GRACE: Duration = Duration::from_secs(10);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error a wait loop returns once the user interrupted the command.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Whether the services a command starts outlive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// `lab up`, `lab fix`: once started successfully, a service runs in the background.
    HandOver,
    /// `lab demo`: the command keeps every process it starts until it ends.
    Keep,
}

/// The processes this invocation started and still answers for; shared with the
/// signal handler, which kills them on the hard stop.
#[derive(Debug, Clone)]
pub struct Started {
    processes: Arc<Mutex<Vec<ProcessId>>>,
    ownership: Ownership,
}

impl Started {
    pub fn new(ownership: Ownership) -> Started {
        Started {
            processes: Arc::default(),
            ownership,
        }
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, Vec<ProcessId>> {
        self.processes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a process this invocation started.
    pub fn track(&self, process: ProcessId) {
        self.processes().push(process);
    }

    /// Forgets a process (it was stopped).
    pub fn untrack(&self, process: ProcessId) {
        self.processes().retain(|p| *p != process);
    }

    /// The command succeeded: what it started now runs in the background, beyond its
    /// Ctrl-C clean-up, unless the command keeps its services.
    pub fn hand_over(&self) {
        if self.ownership == Ownership::HandOver {
            self.processes().clear();
        }
    }

    /// Processes this invocation started and still answers for.
    pub fn tracked(&self) -> Vec<ProcessId> {
        self.processes().clone()
    }
}

/// Installs the handler (once per process); the hard stop kills what `started` holds.
pub fn install(started: Started) -> Result<()> {
    ctrlc::set_handler(move || {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            hard_stop(&started);
        }
        let started = started.clone();
        thread::spawn(move || {
            thread::sleep(GRACE);
            hard_stop(&started);
        });
    })
    .context("cannot install the Ctrl-C handler")
}

/// Errors with [`Interrupted`] once a signal arrived.
pub fn check() -> Result<(), Interrupted> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

fn hard_stop(started: &Started) -> ! {
    for process in started.tracked() {
        process.signal(Signal::SIGKILL);
    }
    eprintln!("lab: interrupted; stopped the processes this command had started");
    std::process::exit(EXIT_CODE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some_process() -> ProcessId {
        ProcessId::of(std::process::id()).expect("this process has an identity")
    }

    #[test]
    fn a_handed_over_service_is_no_longer_this_commands() {
        let started = Started::new(Ownership::HandOver);
        started.track(some_process());
        started.hand_over();
        assert!(started.tracked().is_empty());
    }

    #[test]
    fn a_command_that_keeps_its_services_still_answers_for_them() {
        let started = Started::new(Ownership::Keep);
        started.track(some_process());
        started.hand_over();
        assert_eq!(started.tracked(), vec![some_process()]);
        started.untrack(some_process());
        assert!(started.tracked().is_empty());
    }
}
