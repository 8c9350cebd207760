//! Where the consumer answers from this machine, read from the cluster itself (the same
//! answer as `scripts/get-consumer-service-address.sh`, which uses kubectl alone):
//! - kind: `localhost` and the host port `kind/cluster.yaml` maps the node port to;
//! - minikube: the InternalIP of the `minikube` node and the node port;
//! - otherwise: a worker's InternalIP (a node without the control-plane role, else any
//!   node) and the node port.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chaosk8s::Session;
use k8s_openapi::api::core::v1::Node;
use serde::Deserialize;

use crate::targets::TargetKind;

/// The consumer's Service (manifests/base/consumer-service.yaml).
pub const CONSUMER_SERVICE: &str = "my-consumer-service";
const PATH: &str = "/invokeConsumedService";
const CONTROL_PLANE_ROLE: &str = "node-role.kubernetes.io/control-plane";

/// The parts of kind/cluster.yaml the address needs.
#[derive(Debug, Deserialize)]
struct KindConfig {
    #[serde(default)]
    nodes: Vec<KindNode>,
}

#[derive(Debug, Deserialize)]
struct KindNode {
    #[serde(default, rename = "extraPortMappings")]
    extra_port_mappings: Vec<PortMapping>,
}

#[derive(Debug, Deserialize)]
struct PortMapping {
    #[serde(rename = "containerPort")]
    container_port: u16,
    #[serde(rename = "hostPort")]
    host_port: Option<u16>,
}

/// The host port kind publishes `node_port` on, from the text of a kind cluster config.
pub fn kind_host_port(config_text: &str, node_port: u16, name: &str) -> Result<u16> {
    let config: KindConfig = serde_saphyr::from_str(config_text)
        .with_context(|| format!("{name} is not a valid kind cluster configuration"))?;
    config
        .nodes
        .iter()
        .flat_map(|node| &node.extra_port_mappings)
        .find(|mapping| mapping.container_port == node_port)
        .map(|mapping| mapping.host_port.unwrap_or(node_port))
        .with_context(|| {
            format!(
                "{name} maps no host port to the consumer's node port {node_port} \
                 (extraPortMappings containerPort), so it is not reachable from this machine"
            )
        })
}

/// The InternalIP of a node.
fn internal_ip(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

fn is_control_plane(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|labels| labels.contains_key(CONTROL_PLANE_ROLE))
}

/// The node to reach a node port on: the first worker with an InternalIP, else the first
/// node with one (nodes in the API's order, as kubectl lists them).
pub fn pick_node_ip(nodes: &[Node]) -> Option<String> {
    nodes
        .iter()
        .filter(|n| !is_control_plane(n))
        .find_map(internal_ip)
        .or_else(|| nodes.iter().find_map(internal_ip))
}

/// A host as it goes into a URL (IPv6 literals in brackets).
fn url_host(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The consumer Service's node port in `namespace`.
pub fn node_port(session: &Session, namespace: &str) -> Result<u16> {
    let service = session
        .service(namespace, CONSUMER_SERVICE)
        .with_context(|| format!("cannot read service '{CONSUMER_SERVICE}' in namespace '{namespace}'"))?
        .with_context(|| {
            format!(
                "service '{CONSUMER_SERVICE}' not found in namespace '{namespace}' (is the lab up? `lab up --target ...`)"
            )
        })?;
    let spec = service.spec.unwrap_or_default();
    let kind = spec.type_.unwrap_or_else(|| "ClusterIP".into());
    if kind != "NodePort" && kind != "LoadBalancer" {
        bail!(
            "service '{CONSUMER_SERVICE}' in namespace '{namespace}' has type '{kind}', expected NodePort"
        );
    }
    spec.ports
        .unwrap_or_default()
        .first()
        .and_then(|p| p.node_port)
        .and_then(|p| u16::try_from(p).ok())
        .with_context(|| {
            format!("service '{CONSUMER_SERVICE}' in namespace '{namespace}' has no node port")
        })
}

/// The consumer's URL on a Kubernetes target.
pub fn consumer_url(
    session: &Session,
    kind: TargetKind,
    namespace: &str,
    kind_config: &Path,
) -> Result<String> {
    let port = node_port(session, namespace)?;
    let host = match kind {
        TargetKind::Kind => {
            let name = kind_config.display().to_string();
            let text = std::fs::read_to_string(kind_config)
                .with_context(|| format!("cannot read {name}"))?;
            let host_port = kind_host_port(&text, port, &name)?;
            return Ok(format!("http://localhost:{host_port}{PATH}"));
        }
        TargetKind::Minikube => {
            let node = session
                .node("minikube")
                .context("cannot read node 'minikube'")?;
            match node.as_ref().and_then(internal_ip) {
                Some(ip) => ip,
                None => any_node_ip(session)?,
            }
        }
        _ => any_node_ip(session)?,
    };
    Ok(format!("http://{}:{port}{PATH}", url_host(&host)))
}

fn any_node_ip(session: &Session) -> Result<String> {
    let nodes = session.nodes().context("cannot list nodes")?;
    if nodes.is_empty() {
        bail!(
            "the cluster has no nodes, so the node port of '{CONSUMER_SERVICE}' is not reachable"
        );
    }
    pick_node_ip(&nodes).context("no node has an InternalIP address (kubectl get nodes -o wide)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, ip: Option<&str>, control_plane: bool) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: control_plane
                    .then(|| [(CONTROL_PLANE_ROLE.to_string(), String::new())].into()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                addresses: ip.map(|ip| {
                    vec![
                        NodeAddress {
                            type_: "Hostname".into(),
                            address: name.into(),
                        },
                        NodeAddress {
                            type_: "InternalIP".into(),
                            address: ip.into(),
                        },
                    ]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn workers_are_preferred_then_any_node_with_an_ip() {
        let nodes = [
            node("cp", Some("10.0.0.1"), true),
            node("w0", None, false),
            node("w1", Some("10.0.0.3"), false),
        ];
        assert_eq!(pick_node_ip(&nodes).as_deref(), Some("10.0.0.3"));
        assert_eq!(pick_node_ip(&nodes[..2]).as_deref(), Some("10.0.0.1"));
        assert_eq!(pick_node_ip(&nodes[1..2]), None);
        assert_eq!(url_host("fd00::1"), "[fd00::1]");
    }

    #[test]
    fn the_repository_kind_config_maps_the_node_port() {
        let text = include_str!("../../../../kind/cluster.yaml");
        assert_eq!(
            kind_host_port(text, 30080, "kind/cluster.yaml").unwrap(),
            30080
        );
        let err = kind_host_port(text, 31000, "kind/cluster.yaml").unwrap_err();
        assert!(
            err.to_string()
                .contains("maps no host port to the consumer's node port 31000")
        );
        let remapped = "nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8088\n";
        assert_eq!(kind_host_port(remapped, 30080, "x").unwrap(), 8088);
        assert!(kind_host_port("nodes: [", 30080, "x").is_err());
    }
}
