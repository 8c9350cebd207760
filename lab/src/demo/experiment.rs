//! The experiment the demo runs: `experiments/local.json`, compiled into the binary so
//! `lab demo` works from any directory, with the pause after the kill set to `--pause`.
//!
//! The pause is changed in a copy rather than through a `${pause}` variable: the
//! reference Chaos Toolkit does not substitute variables in `pauses`, and the demo must
//! run unchanged under both runners.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// `experiments/local.json` as it is in the repository.
pub const LOCAL_EXPERIMENT: &str = include_str!("../../../experiments/local.json");

/// Where the experiment comes from, for the narration.
pub const SOURCE: &str = "experiments/local.json";

/// The tutorial's wait after killing the provider, read from the experiment.
pub fn tutorial_pause() -> Option<f64> {
    let experiment: Value = serde_json::from_str(LOCAL_EXPERIMENT).ok()?;
    method_pauses(&experiment).into_iter().next()
}

fn method_pauses(experiment: &Value) -> Vec<f64> {
    experiment["method"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|activity| activity["pauses"]["after"].as_f64())
        .collect()
}

/// The experiment with every `pauses.after` of the method set to `seconds`.
pub fn with_pause(seconds: u64) -> Result<Value> {
    let mut experiment: Value = serde_json::from_str(LOCAL_EXPERIMENT)
        .context("the embedded experiments/local.json is not valid JSON")?;
    if let Some(method) = experiment["method"].as_array_mut() {
        for activity in method {
            if let Some(pauses) = activity.get_mut("pauses").and_then(Value::as_object_mut)
                && pauses.contains_key("after")
            {
                pauses.insert("after".into(), Value::from(seconds));
            }
        }
    }
    Ok(experiment)
}

/// Writes the experiment with the given pause to `path` (4-space indent like the source).
pub fn write_with_pause(path: &Path, seconds: u64) -> Result<()> {
    let experiment = with_pause(seconds)?;
    let mut text = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
    serde::Serialize::serialize(&experiment, &mut serializer)
        .context("cannot encode the experiment")?;
    text.push(b'\n');
    atomic_file::write(path, &text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorial_pause_is_fifteen_seconds() {
        assert_eq!(tutorial_pause(), Some(15.0));
    }

    #[test]
    fn the_pause_is_changed_and_nothing_else() {
        let original: Value = serde_json::from_str(LOCAL_EXPERIMENT).unwrap();
        let mut changed = with_pause(2).unwrap();
        assert_eq!(method_pauses(&changed), vec![2.0]);
        changed["method"][0]["pauses"]["after"] = Value::from(15);
        assert_eq!(changed, original);
    }

    #[test]
    fn the_copy_on_disk_is_the_experiment_with_the_new_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.json");
        write_with_pause(&path, 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n    \"title\""), "{text}");
        let written: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(written, with_pause(1).unwrap());
    }

    #[test]
    fn local_experiment_matches_the_kubernetes_one_in_story() {
        // Same title, hypothesis title and activity names as the tutorial's experiment.json.
        let local: Value = serde_json::from_str(LOCAL_EXPERIMENT).unwrap();
        let k8s: Value = serde_json::from_str(include_str!("../../../experiment.json")).unwrap();
        for pointer in ["/title", "/description", "/steady-state-hypothesis/title"] {
            assert_eq!(local.pointer(pointer), k8s.pointer(pointer), "{pointer}");
        }
        let names = |v: &Value, list: &str| -> Vec<String> {
            v.pointer(list)
                .and_then(Value::as_array)
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&local, "/steady-state-hypothesis/probes"),
            names(&k8s, "/steady-state-hypothesis/probes")
        );
        assert_eq!(names(&local, "/method"), names(&k8s, "/method"));
        assert_eq!(
            local.pointer("/method/0/pauses"),
            k8s.pointer("/method/0/pauses")
        );
        // The local form: process providers calling `lab`, an http probe from configuration.
        assert_eq!(
            local.pointer("/steady-state-hypothesis/probes/0/provider/path"),
            Some(&Value::from("lab"))
        );
        assert_eq!(
            local.pointer("/steady-state-hypothesis/probes/1/provider/url"),
            Some(&Value::from("${consumer_url}"))
        );
        assert!(
            local
                .pointer("/steady-state-hypothesis/probes/1/provider/timeout")
                .is_some()
        );
        assert_eq!(
            local.pointer("/configuration/consumer_url/key"),
            Some(&Value::from("CONSUMER_URL"))
        );
    }
}
