//! The one tokio runtime through which sync code drives async work (the `http`
//! provider's requests, loading an experiment from a URL).
//!
//! It is owned by one long-lived value (the [`crate::engine::RunHandle`], or the `validate`
//! command), built on first use so runs that never make an HTTP call never start it,
//! shared by every thread that needs it, and dropped with its owner.
//!
//! It is a current-thread runtime: tokio lets `block_on(&self)` be called from several
//! threads at once; the first caller drives the I/O and timers for all of them, and the
//! next one takes over when it returns. A run that calls from one thread (the usual
//! case) does all its I/O on that thread, with no runtime thread to start and no
//! hand-off per request: measured, a multi-thread runtime with one worker made
//! `chaos-runner run` on a 10-request experiment ~2 ms slower (~15%).

use std::sync::OnceLock;

#[derive(Debug, Default)]
pub struct AsyncRuntime {
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

impl AsyncRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self) -> Result<&tokio::runtime::Runtime, String> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs `work` to completion on the calling thread (the runtime's context entered,
    /// so clients built inside can find it). Errors only when the runtime can't start.
    pub fn block_on<F: Future>(&self, work: impl FnOnce() -> F) -> Result<F::Output, String> {
        let runtime = self.get()?;
        let _context = runtime.enter();
        let future = work();
        Ok(runtime.block_on(future))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_from_several_threads() {
        let rt = std::sync::Arc::new(AsyncRuntime::new());
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let rt = rt.clone();
                std::thread::spawn(move || {
                    rt.block_on(|| async move {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        i
                    })
                })
            })
            .collect();
        let got: Vec<_> = workers.into_iter().map(|w| w.join().ok()).collect();
        assert_eq!(got, vec![Some(Ok(0)), Some(Ok(1)), Some(Ok(2))]);
    }

    #[test]
    fn a_short_call_is_not_held_up_by_a_long_one_on_another_thread() {
        use std::time::{Duration, Instant};
        let rt = std::sync::Arc::new(AsyncRuntime::new());
        let long = {
            let rt = rt.clone();
            std::thread::spawn(move || {
                rt.block_on(|| tokio::time::sleep(Duration::from_millis(1500)))
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let short = rt.block_on(|| async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
            let addr = listener.local_addr().ok()?;
            let (connected, accepted) =
                tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some(connected.is_ok() && accepted.is_ok())
        });
        assert_eq!(short, Ok(Some(true)));
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(long.join().ok(), Some(Ok(())));
    }
}
