//! Interruption: a shared flag set by Ctrl-C / SIGTERM that running activities poll.
//!
//! Blocking work (a driver call) runs on a helper thread and async work (an HTTP call)
//! is polled alongside the flag, so the caller can give up waiting as soon as the flag is
//! set; processes are killed outright.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often blocked waits look at the flag.
pub const POLL: Duration = Duration::from_millis(25);

/// A cancellation flag shared between the signal handler, the engine and providers.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sleeps up to `duration`; returns false when cancelled before the end.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Runs `work` on a helper thread and waits for it; `None` when cancelled first
    /// (the helper is left to finish on its own: its result is dropped).
    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(work());
        });
        loop {
            match rx.recv_timeout(POLL) {
                Ok(v) => return Some(v),
                Err(mpsc::RecvTimeoutError::Timeout) if self.is_cancelled() => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl Cancel {
    /// Awaits `work`, checking the flag every [`POLL`]; `None` when cancelled first
    /// (`work` is then dropped, which aborts it).
    pub async fn until_cancelled<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                v = &mut work => return Some(v),
                _ = tokio::time::sleep(POLL) => {
                    if self.is_cancelled() {
                        return None;
                    }
                }
            }
        }
    }
}

/// Process-wide Ctrl-C / SIGTERM handling for the CLI: the first signal cancels the
/// run gracefully, the second calls `on_second` (which writes what it can and exits).
pub fn install(cancel: Cancel, on_second: impl Fn() + Send + 'static) -> Result<(), ctrlc::Error> {
    let count = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            tracing::warn!("Received a termination signal (Ctrl-C)...");
            cancel.cancel();
        } else {
            on_second();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_returns_value_or_gives_up_when_cancelled() {
        let c = Cancel::new();
        assert_eq!(c.run(|| 7), Some(7));
        c.cancel();
        let started = Instant::now();
        let r = c.run(|| {
            std::thread::sleep(Duration::from_secs(5));
            1
        });
        assert_eq!(r, None);
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(!c.sleep(Duration::from_secs(5)));
    }
}
