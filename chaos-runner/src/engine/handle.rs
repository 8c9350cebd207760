//! What one run's threads share: cancellation, the reason it stops early (set once,
//! read by every loop), the [`JournalWriter`] that records it, the I/O (one async
//! runtime) and the log's secret mask. The journal records; the engine decides from its
//! own values, never from what it recorded.

use crate::interrupt::Cancel;
use crate::journal::{JournalWriter, Status};
use crate::log::SecretMask;
use crate::run_io::RunIo;
use crate::runtime::AsyncRuntime;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Why the method (and the continuous hypothesis) stopped before their end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--fail-fast`: the continuous hypothesis deviated.
    Failed,
    /// Interrupted (Ctrl-C / SIGTERM) while a hypothesis ran.
    Interrupted,
    /// An activity could not run at all.
    Aborted,
}

impl StopReason {
    /// The journal status it gives the run.
    pub fn status(self) -> Status {
        match self {
            StopReason::Failed => Status::Failed,
            StopReason::Interrupted => Status::Interrupted,
            StopReason::Aborted => Status::Aborted,
        }
    }
}

/// A handle on one run: what the engine's threads and the signal handler share (clones
/// share it).
#[derive(Debug, Clone, Default)]
pub struct RunHandle(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    cancel: Cancel,
    stop: OnceLock<StopReason>,
    journal: JournalWriter,
    io: Arc<RunIo>,
    secret_mask: SecretMask,
}

impl RunHandle {
    /// A run whose journal goes to `journal_path` (also on a second signal) and whose
    /// secrets are added to `secret_mask` (the log's, see [`crate::log::init`]).
    pub fn new(journal_path: Option<PathBuf>, secret_mask: SecretMask) -> Self {
        RunHandle(Arc::new(Shared {
            journal: JournalWriter::new(journal_path),
            secret_mask,
            ..Shared::default()
        }))
    }

    /// The run's I/O, for its activities.
    pub(super) fn io(&self) -> Arc<RunIo> {
        self.0.io.clone()
    }

    /// Adds `values` to the log's secret mask.
    pub(super) fn mask_secrets(&self, values: Vec<String>) {
        self.0.secret_mask.add(values);
    }

    /// Set by the first termination signal; activities poll it.
    pub fn cancel(&self) -> &Cancel {
        &self.0.cancel
    }

    pub fn journal(&self) -> &JournalWriter {
        &self.0.journal
    }

    /// The run's one async runtime (also for loading the experiment from a URL).
    pub fn runtime(&self) -> &AsyncRuntime {
        &self.0.io.runtime
    }

    /// Stops the method and the continuous hypothesis; the first reason given stays.
    pub(super) fn stop(&self, reason: StopReason) {
        let _ = self.0.stop.set(reason);
    }

    /// Why the run stopped early, if it did.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.0.stop.get().copied()
    }
}
