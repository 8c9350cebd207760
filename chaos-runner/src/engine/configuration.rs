//! Dynamic configuration: configuration entries that are probes, run once before the
//! experiment.

use super::context::RunContext;
use super::provider::Output;
use crate::activity::{Activity, ActivityKind};
use crate::interrupt::Cancel;
use serde_json::{Map, Value};

/// Configuration entries that are probes get the probe's output as their value
/// (process: stripped stdout when it exited 0; http: the body; python: the output).
pub(super) fn load_dynamic_configuration(ctx: &RunContext, cancel: &Cancel) -> Map<String, Value> {
    let mut out = Map::new();
    let mut had_errors = false;
    for (key, value) in &ctx.configuration {
        let Some(probe) = Activity::from_value(value)
            .ok()
            .filter(|a| a.kind == ActivityKind::Probe)
        else {
            out.insert(key.clone(), value.clone());
            continue;
        };
        let partial = RunContext {
            configuration: out.clone(),
            ..ctx.clone()
        };
        match probe.run_provider(&partial.provider(cancel)) {
            Ok(Output::Process {
                status: 0, stdout, ..
            }) => {
                out.insert(key.clone(), Value::String(stdout.trim().to_string()));
            }
            Ok(Output::Process { .. }) => had_errors = true,
            Ok(Output::Http { body, .. }) => {
                out.insert(key.clone(), body);
            }
            Ok(Output::Python(value)) => {
                out.insert(key.clone(), value);
            }
            Err(e) => {
                had_errors = true;
                tracing::debug!("Failed to load configuration '{}': {}", key, e);
            }
        }
    }
    if had_errors {
        tracing::warn!(
            "Some of the dynamic configuration failed to be loaded.Please review the log file for understanding what happened."
        );
    }
    out
}
