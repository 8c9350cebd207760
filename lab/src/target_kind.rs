//! Which kind of place the lab runs on: a leaf, so the state on disk records it without
//! depending on the targets themselves.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The kinds of target `--target` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The two services as supervised processes on this machine (no containers).
    #[default]
    Local,
    /// A kind cluster.
    Kind,
    /// A minikube cluster.
    Minikube,
    /// Whatever cluster the current kube context points at.
    Cluster,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Local => "local",
            TargetKind::Kind => "kind",
            TargetKind::Minikube => "minikube",
            TargetKind::Cluster => "cluster",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
