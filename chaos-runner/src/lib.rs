//! chaos-runner: validates and runs experiments written in the Chaos Toolkit format,
//! with the same outcomes and the same journal as chaostoolkit 1.19 / chaostoolkit-lib 1.44.
//!
//! The public surface is what the binary, the tests and other crates use: running an
//! experiment ([`run_experiment`] with [`RunOptions`] on a [`RunHandle`]), reading one
//! ([`load_experiment`], [`parse_experiment`], [`Experiment`]), validating it
//! ([`validate`]), the journal's types, the native-driver contract ([`Driver`],
//! [`Registry`]), and [`duration`], the one range check for numbers that become timers.
//!
//! The modules behind it read bottom-up, in layers; a module imports only from its own
//! layer and the ones below (`tests/layers.rs` keeps it so):
//! - leaves, nothing about experiments: `diagnostics` (problems at JSON pointers),
//!   `duration`, `strict_json` (JSON with the keys an object repeats), `python_value`
//!   (Python's `==`, `<=`, `in`, `str()`, `json.dumps`), `panic`, `interrupt` (Ctrl-C,
//!   SIGTERM, process groups), `runtime` (the one tokio runtime), `log`, `pause`, `tls`;
//! - the model, the experiment read into types once: `experiment` (loading from a file
//!   or URL, and [`Experiment`]), `activity`, `hypothesis`, `tolerance`, `provider`,
//!   `control` (controls as declared), `strategy`, `config` (configuration, secrets,
//!   `--var`, `${name}` substitution);
//! - what `python` providers call: `drivers` (native drivers and the [`Registry`]
//!   routing to them or to `bridge`, the Python bridge) and `run_io` (the run's
//!   runtime, HTTP clients and exported variables they share);
//! - validation over the typed model: `validate` (every problem at once), `settings`
//!   (the settings file, read and checked);
//! - `journal`: what a run records, and its writer;
//! - `engine`: running an experiment (its phases, activities, the hypothesis,
//!   rollbacks, controls at run time, providers);
//! - `report` (files made from journals) and `cli`.

// Leaves: nothing about experiments.
mod diagnostics;
pub mod duration;
mod interrupt;
mod log;
mod panic;
mod pause;
mod python_value;
mod runtime;
mod strict_json;
mod tls;

// The model: the experiment read into types.
mod activity;
mod config;
mod control;
mod experiment;
mod hypothesis;
mod provider;
mod strategy;
mod tolerance;

// What `python` providers call, and the run's shared I/O.
mod bridge;
mod drivers;
mod run_io;

// Validation over the model, and the settings file.
mod settings;
mod validate;

// What a run records.
mod journal;

// Running an experiment.
mod engine;

// What is made from journals, and the command line.
mod cli;
mod report;

pub use activity::Dry;
pub use bridge::PYTHON_ENV;
pub use cli::main;
pub use config::{ConfigError, Vars, load_vars};
pub use diagnostics::{Problem, Report};
pub use drivers::{Argument, Context, Driver, DriverError, Function, Registry};
pub use engine::{Outcome, RunHandle, RunOptions, StopReason, run_experiment};
pub use experiment::{
    Experiment, Format, LoadError, load as load_experiment, parse as parse_experiment,
};
pub use interrupt::Cancel;
pub use journal::{ActivityRun, HypothesisState, Journal, RunStatus, Status};
pub use run_io::RunIo;
pub use settings::Settings;
pub use strategy::{RollbackStrategy, Strategy};
pub use validate::validate;

/// The chaostoolkit-lib version whose behaviour and journal format this runner follows;
/// written as the journal's `chaoslib-version` so tools that read journals keep working.
pub const CHAOSLIB_COMPAT_VERSION: &str = "1.44.0";
