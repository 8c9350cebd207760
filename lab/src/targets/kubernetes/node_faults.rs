//! `lab node ...` on kind: the failure done to a worker node's container (see
//! `crate::node_command`), after checking the container is a node of the lab's cluster.

use anyhow::{Result, bail};

use super::repo::Repo;
use super::tools::Tool;
use crate::node_command::{NodeAction, NodeArgs, container_name};
use crate::ui;

pub fn run(args: &NodeArgs) -> Result<()> {
    Tool::Docker.locate()?;
    let repo = Repo::locate()?;
    let cluster = repo.kind_cluster_name()?;
    let container = container_name(&cluster, &args.name).map_err(anyhow::Error::msg)?;
    // kind labels every node container with its cluster: nothing else is ever touched.
    let label = Tool::Docker
        .output([
            "inspect",
            "--format",
            "{{ index .Config.Labels \"io.x-k8s.kind.cluster\" }}",
            &container,
        ])
        .ok();
    if label.as_deref().map(str::trim) != Some(cluster.as_str()) {
        bail!(
            "no node `{container}` in kind cluster `{cluster}` (see `kind get nodes --name {cluster}`)"
        );
    }
    Tool::Docker.output([args.action.docker_command(), &container])?;
    let what = match args.action {
        NodeAction::Stop => {
            "stopped (killed: the kubelet stops reporting; after about 40 s the node is NotReady, and its pods are replaced after the eviction timeout)"
        }
        NodeAction::Start => "started (its kubelet rejoins within a minute)",
        NodeAction::Pause => "paused (every process frozen)",
        NodeAction::Unpause => "running again",
    };
    ui::info(format!("node {container} {what}"));
    Ok(())
}
