//! The one tokio runtime through which sync code drives async work (the `http`
//! provider's requests, loading an experiment from a URL).
//!
//! It is owned by one long-lived value (the [`crate::run::Run`], or the `validate`
//! command), built on first use so runs that never make an HTTP call never start it,
//! shared by every thread that needs it, and dropped with its owner. It is a
//! multi-thread runtime with one worker: `block_on(&self)` may be called from any
//! thread, and the worker drives the I/O and timers meanwhile.

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
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("chaos-runner-io")
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
}
