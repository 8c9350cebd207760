//! kind's nodes: `lab up --target kind --workers N` makes a cluster of kind/cluster.yaml's
//! control plane and N worker nodes (the file itself describes the one-node cluster, so
//! that stock `kind create cluster --config kind/cluster.yaml` keeps working), and an
//! existing cluster of another shape is reported rather than silently used.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A kind configuration: its nodes, everything else carried through unchanged.
#[derive(Deserialize, Serialize)]
struct KindConfig {
    #[serde(default)]
    nodes: Vec<Node>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct Node {
    #[serde(default = "control_plane")]
    role: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn control_plane() -> String {
    "control-plane".into()
}

/// The configuration `kind create cluster` gets for `workers` worker nodes: `text` (the
/// YAML of `path`) with worker nodes added until it has `workers`; written as JSON, which
/// kind reads as the YAML it is.
pub fn with_workers(text: &str, path: &Path, workers: u8) -> Result<String> {
    let mut config: KindConfig = serde_saphyr::from_str(text)
        .with_context(|| format!("{} is not a valid kind configuration", path.display()))?;
    if config.nodes.is_empty() {
        // kind's default: one control-plane node.
        config.nodes.push(Node {
            role: control_plane(),
            rest: Map::new(),
        });
    }
    let have = config.nodes.iter().filter(|n| n.role == "worker").count();
    let want = usize::from(workers);
    if have > want {
        bail!(
            "{} already lists {have} worker node(s), more than --workers {workers}",
            path.display()
        );
    }
    for _ in have..want {
        config.nodes.push(Node {
            role: "worker".into(),
            rest: Map::new(),
        });
    }
    serde_json::to_string_pretty(&config).context("cannot render the kind configuration")
}

/// How many worker nodes the cluster has, from `kind get nodes --name NAME` (kind names
/// them NAME-worker, NAME-worker2, ...; control planes NAME-control-plane...).
pub fn worker_count(cluster: &str, node_list: &str) -> usize {
    let prefix = format!("{cluster}-worker");
    node_list
        .lines()
        .map(str::trim)
        .filter(|node| {
            node.strip_prefix(&prefix)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REPO_CONFIG: &str = include_str!("../../../../kind/cluster.yaml");

    fn nodes(json: &str) -> Vec<Value> {
        let value: Value = serde_json::from_str(json).unwrap();
        value["nodes"].as_array().unwrap().clone()
    }

    #[test]
    fn workers_are_added_after_the_control_plane_which_keeps_its_port_mapping() {
        let json = with_workers(REPO_CONFIG, Path::new("kind/cluster.yaml"), 2).unwrap();
        let nodes = nodes(&json);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0]["role"], "control-plane");
        assert_eq!(nodes[0]["extraPortMappings"][0]["hostPort"], 30080);
        assert_eq!(nodes[1], json!({"role": "worker"}));
        assert_eq!(nodes[2], json!({"role": "worker"}));
        let value: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["name"], "cascade-lab");
        assert_eq!(value["kind"], "Cluster");
    }

    #[test]
    fn no_nodes_means_one_control_plane_and_listed_workers_count() {
        let json = with_workers("kind: Cluster\n", Path::new("c.yaml"), 1).unwrap();
        assert_eq!(
            nodes(&json),
            [json!({"role": "control-plane"}), json!({"role": "worker"})]
        );
        let two = "nodes:\n  - role: control-plane\n  - role: worker\n  - role: worker\n";
        assert_eq!(
            nodes(&with_workers(two, Path::new("c.yaml"), 2).unwrap()).len(),
            3
        );
        let err = with_workers(two, Path::new("c.yaml"), 1).unwrap_err();
        assert!(
            format!("{err:#}").contains("c.yaml already lists 2 worker"),
            "{err:#}"
        );
    }

    #[test]
    fn an_invalid_file_is_named() {
        let err = with_workers("nodes: 3\n", Path::new("bad.yaml"), 1).unwrap_err();
        assert!(format!("{err:#}").contains("bad.yaml is not a valid kind configuration"));
    }

    #[test]
    fn workers_are_counted_by_kinds_node_names() {
        let list = "lab-control-plane\nlab-worker\nlab-worker2\nlab-workerx\nother-worker\n";
        assert_eq!(worker_count("lab", list), 2);
        assert_eq!(worker_count("lab", "lab-control-plane\n"), 0);
    }
}
