//! `lab node stop|start|pause|unpause NAME`: a kind node failing, for experiments (issue
//! 22): chaostoolkit-kubernetes can drain or delete a Node object, but nothing in it
//! makes the machine under a node go away. On kind a node is a Docker container, so the
//! failure is done to the container; the cluster then sees what it would see of a
//! machine that lost power (`stop`) or froze (`pause`).

use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// What happens to the node's container
    #[arg(value_enum)]
    pub action: NodeAction,
    /// The node: its Kubernetes name (cascade-lab-worker) or kind's role suffix (worker,
    /// worker2); the control plane is refused (the cluster's API would go with it)
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeAction {
    /// Kill the node's container at once (a power cut: no drain, no graceful shutdown)
    Stop,
    /// Start a stopped node's container again (the kubelet rejoins)
    Start,
    /// Freeze every process of the node (a hung machine: its connections stay open)
    Pause,
    /// Let a paused node run again
    Unpause,
}

impl NodeAction {
    /// The `docker` subcommand that does it.
    pub fn docker_command(self) -> &'static str {
        match self {
            NodeAction::Stop => "kill",
            NodeAction::Start => "start",
            NodeAction::Pause => "pause",
            NodeAction::Unpause => "unpause",
        }
    }
}

/// The node's container name in cluster `cluster`, from what the user typed.
pub fn container_name(cluster: &str, name: &str) -> Result<String, String> {
    let full = if name.starts_with(&format!("{cluster}-")) {
        name.to_string()
    } else {
        format!("{cluster}-{name}")
    };
    let role = &full[cluster.len() + 1..];
    if role.starts_with("control-plane") {
        return Err(format!(
            "`{full}` is the control plane: the cluster's API would go with it; lab node acts on workers"
        ));
    }
    let suffix = role.strip_prefix("worker");
    if !suffix.is_some_and(|s| s.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!(
            "`{name}` is not a worker of kind cluster `{cluster}` (expected {cluster}-worker, {cluster}-worker2, ...)"
        ));
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_completed_and_the_control_plane_refused() {
        assert_eq!(container_name("lab", "worker").unwrap(), "lab-worker");
        assert_eq!(container_name("lab", "lab-worker2").unwrap(), "lab-worker2");
        assert!(
            container_name("lab", "control-plane")
                .unwrap_err()
                .contains("is the control plane")
        );
        assert!(
            container_name("lab", "lab-control-plane")
                .unwrap_err()
                .contains("is the control plane")
        );
        assert!(
            container_name("lab", "db")
                .unwrap_err()
                .contains("`db` is not a worker of kind cluster `lab`")
        );
        assert!(container_name("lab", "workerx").is_err());
    }

    #[test]
    fn each_action_is_one_docker_command() {
        assert_eq!(NodeAction::Stop.docker_command(), "kill");
        assert_eq!(NodeAction::Start.docker_command(), "start");
        assert_eq!(NodeAction::Pause.docker_command(), "pause");
        assert_eq!(NodeAction::Unpause.docker_command(), "unpause");
    }
}
