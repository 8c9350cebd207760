//! What the activities of one run share.

use super::controls::Controls;
use super::provider::ProviderContext;
use crate::activity::{Activity, Dry};
use crate::config::{Configuration, Secrets};
use crate::drivers::Registry;
use crate::experiment::Experiment;
use crate::interrupt::Cancel;
use crate::run_io::RunIo;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything shared by the activities of one run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The experiment, read (its activities, for `ref` lookups too).
    pub experiment: Arc<Experiment>,
    pub configuration: Configuration,
    pub secrets: Secrets,
    pub env: BTreeMap<String, String>,
    pub registry: Registry,
    pub dry: Option<Dry>,
    /// The run's async runtime and HTTP clients.
    pub io: Arc<RunIo>,
    /// The run's controls (none when the experiment and the settings declare none).
    pub controls: Arc<Controls>,
}

impl RunContext {
    pub fn provider<'a>(&'a self, cancel: &'a Cancel) -> ProviderContext<'a> {
        ProviderContext {
            configuration: &self.configuration,
            secrets: &self.secrets,
            env: &self.env,
            registry: &self.registry,
            cancel,
            io: &self.io,
        }
    }

    /// The activity a `ref` names: a method activity or a hypothesis probe.
    pub fn lookup(&self, name: &str) -> Option<&Activity> {
        self.experiment.lookup(name)
    }
}
