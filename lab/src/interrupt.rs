//! Ctrl-C (and SIGTERM) while the lab is starting things.
//!
//! The first signal sets a flag; every wait loop of the lab checks it and unwinds, and
//! the command then stops what *this invocation* started and cleans the state. If that
//! takes too long, or a second signal arrives, the processes this invocation started
//! are killed outright and the CLI exits. Services started by earlier commands are never
//! touched: they are background services on purpose.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
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
static STARTED: Mutex<Vec<ProcessId>> = Mutex::new(Vec::new());
static OWNS_SERVICES: AtomicBool = AtomicBool::new(false);

/// The error a wait loop returns once the user interrupted the command.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Installs the handler (once per process).
pub fn install() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            hard_stop();
        }
        thread::spawn(|| {
            thread::sleep(GRACE);
            hard_stop();
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

/// Records a process this invocation started, for the hard stop.
pub fn track(process: ProcessId) {
    if let Ok(mut started) = STARTED.lock() {
        started.push(process);
    }
}

/// Forgets a process (it was stopped, or handed over as a background service).
pub fn untrack(process: ProcessId) {
    if let Ok(mut started) = STARTED.lock() {
        started.retain(|p| *p != process);
    }
}

/// Makes this invocation keep every service it starts until it ends (`lab demo` brings
/// the lab up and down itself; `lab up` hands its services over to the background).
pub fn own_services() {
    OWNS_SERVICES.store(true, Ordering::SeqCst);
}

/// A service started successfully: it now runs in the background, beyond this
/// invocation's Ctrl-C clean-up, unless the invocation owns its services.
pub fn hand_over(process: ProcessId) {
    if !OWNS_SERVICES.load(Ordering::SeqCst) {
        untrack(process);
    }
}

/// Processes this invocation started and still owns.
pub fn tracked() -> Vec<ProcessId> {
    STARTED.lock().map(|s| s.clone()).unwrap_or_default()
}

fn hard_stop() -> ! {
    for process in tracked() {
        process.signal(Signal::SIGKILL);
    }
    eprintln!("lab: interrupted; stopped the processes this command had started");
    std::process::exit(EXIT_CODE);
}
