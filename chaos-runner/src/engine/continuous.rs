//! The continuous steady-state hypothesis: run every `frequency` seconds during the
//! method, on its own thread.

use super::RunOptions;
use super::activity::Abort;
use super::context::RunContext;
use super::handle::{RunHandle, StopReason};
use super::hypothesis::{last_probe_name, run_steady_state_hypothesis};
use crate::critical;
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// Runs the hypothesis every `frequency` seconds during the method, on its own thread.
pub(super) fn spawn_continuous(
    ctx: Arc<RunContext>,
    run: RunHandle,
    options: &RunOptions,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = mpsc::channel::<()>();
    let frequency = options.hypothesis_frequency.max(0.0);
    let fail_fast = options.fail_fast;
    let handle = std::thread::spawn(move || {
        tracing::info!(
            "Executing the steady-state hypothesis continuously every {} seconds",
            crate::python_value::py_str(&serde_json::json!(frequency))
        );
        let mut failed = 0u32;
        let mut iteration = 1u32;
        // The first check runs even when the method is already over (a method quicker
        // than this thread's start): the reference's thread nearly always gets one in.
        loop {
            if run.stop_reason().is_some() {
                break;
            }
            match run_steady_state_hypothesis(&ctx, run.cancel()) {
                Ok(Some(state)) => {
                    let met = state.steady_state_met == Some(true);
                    let probe = last_probe_name(&state);
                    run.journal().record(|j| j.steady_states.during.push(state));
                    if !met {
                        failed += 1;
                        let ratio = f64::from(failed) * 100.0 / f64::from(iteration);
                        tracing::warn!(
                            "Continuous steady state probe '{}' is not in the given tolerance",
                            probe
                        );
                        if fail_fast {
                            tracing::info!(
                                "Terminating immediately the experiment after {:.1}% hypothesis deviated",
                                ratio
                            );
                            run.stop(StopReason::Failed);
                            break;
                        }
                    }
                }
                Ok(None) => {}
                Err(Abort::Interrupted) => {
                    run.stop(StopReason::Interrupted);
                    break;
                }
                Err(Abort::Fatal(msg)) => {
                    run.stop(StopReason::Aborted);
                    critical!("{}", msg);
                    break;
                }
            }
            iteration += 1;
            let interval = crate::duration::from_seconds(frequency)
                .unwrap_or(Duration::from_secs_f64(crate::duration::MAX_SECONDS));
            match stopped.recv_timeout(interval) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => break,
            }
        }
        tracing::info!("Continuous steady state hypothesis terminated");
    });
    (stop, handle)
}
