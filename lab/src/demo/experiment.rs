//! The experiment the demo runs: its story's (`experiments/local.json` for the kill),
//! compiled into the binary so `lab demo` works from any directory, with the pause after
//! the kill set to `--pause`.
//!
//! The pause is changed in a copy rather than through a `${pause}` variable: the
//! reference Chaos Toolkit does not substitute variables in `pauses`, and the demo must
//! run unchanged under both runners.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::scenario::Story;

/// The wait after the story's fault, as its experiment has it (the tutorial's 15 s).
pub fn tutorial_pause(story: &Story) -> Option<f64> {
    let experiment: Value = serde_json::from_str(story.experiment).ok()?;
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

/// The story's experiment with every `pauses.after` of the method set to `seconds`.
pub fn with_pause(story: &Story, seconds: u64) -> Result<Value> {
    let mut experiment: Value = serde_json::from_str(story.experiment)
        .with_context(|| format!("the embedded {} is not valid JSON", story.source))?;
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

/// Writes the story's experiment to `path` (4-space indent like the source), with the
/// given pause when the story takes one, else as it is.
pub fn write(path: &Path, story: &Story, seconds: u64) -> Result<()> {
    let experiment = if story.pausable {
        with_pause(story, seconds)?
    } else {
        serde_json::from_str(story.experiment)
            .with_context(|| format!("the embedded {} is not valid JSON", story.source))?
    };
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
    use crate::demo::scenario::Scenario;

    const LOCAL_EXPERIMENT: &str = include_str!("../../../experiments/local.json");

    fn kill() -> &'static Story {
        Scenario::Kill.story()
    }

    #[test]
    fn the_tutorial_pause_is_fifteen_seconds() {
        assert_eq!(tutorial_pause(kill()), Some(15.0));
    }

    #[test]
    fn the_pause_is_changed_and_nothing_else() {
        let original: Value = serde_json::from_str(LOCAL_EXPERIMENT).unwrap();
        let mut changed = with_pause(kill(), 2).unwrap();
        assert_eq!(method_pauses(&changed), vec![2.0]);
        changed["method"][0]["pauses"]["after"] = Value::from(15);
        assert_eq!(changed, original);
    }

    #[test]
    fn the_copy_on_disk_is_the_experiment_with_the_new_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.json");
        write(&path, kill(), 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n    \"title\""), "{text}");
        let written: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(written, with_pause(kill(), 1).unwrap());
        // A story whose pause is its own is written as it is.
        let latency = Scenario::Latency.story();
        write(&path, latency, 1).unwrap();
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::from_str::<Value>(latency.experiment).unwrap()
        );
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
