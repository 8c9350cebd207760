//! A learner's progress through the challenges: `<state dir>/challenges.json`, written
//! atomically; it outlives `lab down`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::state::StateDir;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The challenge started last (`check` grades it by default).
    #[serde(default)]
    pub current: Option<String>,
    /// Challenge name -> how it went.
    #[serde(default)]
    pub challenges: BTreeMap<String, Record>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub attempts: u32,
    pub passed: bool,
}

impl Progress {
    /// One graded attempt; a pass stays a pass.
    pub fn record(&mut self, name: &str, passed: bool) {
        let record = self.challenges.entry(name.to_string()).or_default();
        record.attempts = record.attempts.saturating_add(1);
        record.passed |= passed;
    }
}

fn path(states: &StateDir) -> PathBuf {
    states.root().join("challenges.json")
}

pub fn load(states: &StateDir) -> Result<Progress> {
    let path = path(states);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a challenge progress file (remove it to start over)",
                path.display()
            )
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn save(states: &StateDir, progress: &Progress) -> Result<()> {
    states.create()?;
    let mut text = serde_json::to_vec_pretty(progress).context("cannot encode the progress")?;
    text.push(b'\n');
    atomic_file::write(&path(states), &text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_and_a_pass_stays_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::at(dir.path());
        let mut progress = load(&states).unwrap();
        progress.current = Some("breaker".into());
        progress.record("breaker", false);
        progress.record("breaker", true);
        progress.record("breaker", false);
        save(&states, &progress).unwrap();
        let read = load(&states).unwrap();
        assert_eq!(read, progress);
        assert_eq!(
            read.challenges["breaker"],
            Record {
                attempts: 3,
                passed: true
            }
        );
        std::fs::write(path(&states), "{\"current\": 3}").unwrap();
        let err = format!("{:#}", load(&states).unwrap_err());
        assert!(err.contains("not a challenge progress file"), "{err}");
    }
}
