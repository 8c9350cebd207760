//! chaos-runner: validates and runs experiments written in the Chaos Toolkit format,
//! with the same outcomes and the same journal as chaostoolkit 1.19 / chaostoolkit-lib 1.44.
//!
//! Map of the crate (one concept per module):
//! - [`experiment`]: loading a JSON/YAML experiment from a file or URL, with positions,
//!   and reading it once into an [`experiment::Experiment`].
//! - [`document`]: JSON read into a value, with the keys an object repeats.
//! - [`validate`]: the experiment-level validation rules, collecting every problem at
//!   once; activities, providers and tolerances validate themselves.
//! - [`config`]: configuration, secrets, `--var`/`--var-file`, `${name}` substitution.
//! - [`duration`]: the one range check for numbers that become durations.
//! - [`tolerance`]: whether a probe's output is within its tolerance.
//! - [`provider`]: the `http`, `process` and `python` providers, each with its spec
//!   type, its rules and its run.
//! - [`drivers`]: the [`drivers::Driver`] trait, the built-in drivers (Kubernetes) and
//!   the [`drivers::Registry`] that routes a `python` provider to one of them or to the
//!   bridge.
//! - [`control`]: controls (hooks around the experiment, hypothesis, method, rollbacks
//!   and activities; Python ones through the bridge, safeguards natively) and the
//!   settings file that declares global ones.
//! - [`bridge`]: the Python bridge (one interpreter per run, started on first use) for
//!   every module without a native driver.
//! - [`activity`]: the [`activity::Activity`] type, its rules, running one and recording
//!   it as a journal run.
//! - [`hypothesis`]: the steady-state hypothesis.
//! - [`rollback`]: rollback strategies and running the rollbacks.
//! - [`run`]: the engine tying it all together into a [`journal::Journal`], and the
//!   [`run::Run`] value one run's threads share (cancellation, stop reason, journal
//!   writer, I/O).
//! - [`runtime`]: the one tokio runtime sync code drives async work through.
//! - [`interrupt`]: Ctrl-C / SIGTERM handling shared by the engine and the providers.
//! - [`pause`]: pauses between activities (countdown on a TTY).
//! - [`log`]: the reference's log line shape.
//! - [`report`]: the `report` command and `run`'s `--junit`/`--summary` outputs, made
//!   from journals by the `journal-report` crate, written whole or not at all.
//! - [`cli`]: the `chaos-runner` command line.

pub mod activity;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod control;
pub mod document;
pub mod drivers;
pub mod duration;
pub mod experiment;
pub mod hypothesis;
pub mod interrupt;
pub mod journal;
pub mod log;
pub mod pause;
pub mod provider;
pub mod pyvalue;
pub mod report;
pub mod rollback;
pub mod run;
pub mod runtime;
pub mod tolerance;
pub mod validate;

/// The chaostoolkit-lib version whose behaviour and journal format this runner follows;
/// written as the journal's `chaoslib-version` so tools that read journals keep working.
pub const CHAOSLIB_COMPAT_VERSION: &str = "1.44.0";
