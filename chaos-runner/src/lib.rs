//! chaos-runner: validates and runs experiments written in the Chaos Toolkit format,
//! with the same outcomes and the same journal as chaostoolkit 1.19 / chaostoolkit-lib 1.44.
//!
//! The crate reads bottom-up, in layers; a module imports only from its own layer and
//! the ones below (`tests/layers.rs` keeps it so):
//! - leaves, nothing about experiments: [`diagnostics`] (problems at JSON pointers),
//!   [`duration`] (the one range check for numbers that become timers),
//!   [`strict_json`] (JSON with the keys an object repeats), [`python_value`] (Python's
//!   `==`, `<=`, `in`, `str()`, `json.dumps`), [`panic`], [`interrupt`] (Ctrl-C,
//!   SIGTERM, process groups), [`runtime`] (the one tokio runtime), [`log`], [`pause`],
//!   [`tls`];
//! - the model, the experiment read into types: [`experiment`] (loading from a file or
//!   URL, and [`experiment::Experiment`]), [`activity`], [`hypothesis`], [`tolerance`],
//!   [`provider`], [`control`] (controls as declared), [`strategy`], [`config`]
//!   (configuration, secrets, `--var`, `${name}` substitution);
//! - what `python` providers call: [`drivers`] (native drivers and the
//!   [`drivers::Registry`] routing to them or to the [`bridge`], the Python bridge) and
//!   [`run_io`] (the run's runtime, HTTP clients and exported variables they share);
//! - validation over the model: [`validate`] (every problem at once), [`settings`] (the
//!   settings file, read and checked);
//! - [`journal`]: what a run records, and its writer;
//! - [`engine`]: running an experiment (its phases, activities, the hypothesis,
//!   rollbacks, controls at run time, providers);
//! - [`report`] (files made from journals) and [`cli`].

// Leaves: nothing about experiments.
pub mod diagnostics;
pub mod duration;
pub mod interrupt;
pub mod log;
pub mod panic;
pub mod pause;
pub mod python_value;
pub mod runtime;
pub mod strict_json;
pub mod tls;

// The model: the experiment read into types.
pub mod activity;
pub mod config;
pub mod control;
pub mod experiment;
pub mod hypothesis;
pub mod provider;
pub mod strategy;
pub mod tolerance;

// What `python` providers call, and the run's shared I/O.
pub mod bridge;
pub mod drivers;
pub mod run_io;

// Validation over the model, and the settings file.
pub mod settings;
pub mod validate;

// What a run records.
pub mod journal;

// Running an experiment.
pub mod engine;

// What is made from journals, and the command line.
pub mod cli;
pub mod report;

/// The chaostoolkit-lib version whose behaviour and journal format this runner follows;
/// written as the journal's `chaoslib-version` so tools that read journals keep working.
pub const CHAOSLIB_COMPAT_VERSION: &str = "1.44.0";
