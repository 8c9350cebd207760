//! What the lab reads and writes through the Kubernetes API, on one `chaosk8s::Session`
//! per command (the same client the experiment's chaosk8s functions use): the session's
//! typed, blocking requests, so the lab has no kube-rs client or async code of its own.

use anyhow::{Context, Result};
use chaosk8s::{Ensured, Session};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

use super::{address, rollout};
use crate::fault_token;
use crate::service::{Mode, Service};
use crate::targets::{Health, PodPlace, ServiceStatus};
use crate::ui;

/// A session with the cluster `context` names (the current one when `None`).
pub fn session(context: Option<&str>) -> Result<Session> {
    Session::for_context(context).context("cannot configure access to the Kubernetes cluster")
}

/// The Kubernetes Service in front of each lab service.
fn kube_service_name(service: Service) -> &'static str {
    match service {
        Service::Provider => "my-provider-service",
        Service::FaultProxy => "fault-proxy",
        Service::Consumer => address::CONSUMER_SERVICE,
    }
}

/// Creates the namespace when it does not exist yet (`lab up --namespace NEW`).
pub fn ensure_namespace(session: &Session, namespace: &str) -> Result<()> {
    let ensured = session
        .ensure_namespace(namespace)
        .with_context(|| format!("cannot read or create namespace '{namespace}'"))?;
    if ensured == Ensured::Created {
        ui::info(format!("created namespace '{namespace}'"));
    }
    Ok(())
}

/// Whether [`ensure_fault_token`] found the Secret or had to make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSecret {
    Kept,
    Created,
}

/// Makes sure `namespace` has the Secret with the provider's fault token (random).
/// An existing token is kept: the running provider read it when it started (a Secret's
/// value reaches a container's environment only at its start).
pub fn ensure_fault_token(session: &Session, namespace: &str) -> Result<TokenSecret> {
    if fault_token(session, namespace)?.is_some() {
        return Ok(TokenSecret::Kept);
    }
    let token = fault_token::generate();
    let mut object: Secret = serde_json::from_value(json!({
        "metadata": {
            "name": fault_token::SECRET_NAME,
            // What `lab down` and humans find the lab's objects by (manifests/base).
            "labels": {"app.kubernetes.io/part-of": "cascade-lab"}
        },
        "type": "Opaque"
    }))
    .context("cannot build the fault token Secret")?;
    object.data = Some(
        [(
            fault_token::SECRET_KEY.to_string(),
            ByteString(token.into_bytes()),
        )]
        .into(),
    );
    session.create_secret(namespace, &object).with_context(|| {
        format!(
            "cannot create Secret {} in namespace '{namespace}'",
            fault_token::SECRET_NAME
        )
    })?;
    ui::info(format!(
        "created Secret {} (the provider's fault token; `lab fault-token` prints it)",
        fault_token::SECRET_NAME
    ));
    Ok(TokenSecret::Created)
}

/// The fault token the namespace's Secret holds, if there is a usable one.
pub fn fault_token(session: &Session, namespace: &str) -> Result<Option<String>> {
    let secret = session
        .secret(namespace, fault_token::SECRET_NAME)
        .with_context(|| {
            format!(
                "cannot read Secret {} in namespace '{namespace}'",
                fault_token::SECRET_NAME
            )
        })?;
    Ok(secret
        .and_then(|s| s.data)
        .and_then(|mut data| data.remove(fault_token::SECRET_KEY))
        .and_then(|ByteString(bytes)| String::from_utf8(bytes).ok())
        .filter(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())))
}

/// Whether the Deployment `name` exists in `namespace`.
pub fn deployment_exists(session: &Session, namespace: &str, name: &str) -> Result<bool> {
    let found = session
        .deployment(namespace, name)
        .with_context(|| format!("cannot read deployment {name} in namespace '{namespace}'"))?;
    Ok(found.is_some())
}

/// One `lab status` row per lab Deployment that exists in `namespace`.
pub fn status_rows(session: &Session, namespace: &str) -> Result<Vec<ServiceStatus>> {
    let mut rows = Vec::new();
    for service in Service::ALL {
        let Some(deployment) = session
            .deployment(namespace, service.name())
            .with_context(|| format!("cannot read deployment {service}"))?
        else {
            continue; // deleted (killed): not part of the lab until `lab up`
        };
        let port = session
            .service(namespace, kube_service_name(service))
            .ok()
            .flatten()
            .and_then(|s| s.spec)
            .and_then(|spec| spec.ports)
            .and_then(|ports| ports.into_iter().next())
            .map(|p| match service {
                Service::Consumer => p.node_port.unwrap_or(p.port),
                Service::Provider | Service::FaultProxy => p.port,
            })
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        let health = match rollout::pending_reason(&deployment) {
            None => Health::Ready,
            Some(reason) => Health::Unhealthy(reason),
        };
        let mode = (service == Service::Consumer)
            .then(|| resilience_mode(&deployment))
            .flatten();
        let pods = pods_of(session, namespace, &deployment);
        rows.push(ServiceStatus {
            service,
            pid: None,
            port,
            health,
            mode,
            circuit: None,
            faults: None,
            pods,
        });
    }
    Ok(rows)
}

/// The consumer Deployment's mode, from its `CONSUMER_RESILIENCE` variable.
/// The pods the Deployment selects, with their nodes; none when they cannot be read (the
/// status still stands on the Deployment's own counts).
fn pods_of(session: &Session, namespace: &str, deployment: &Deployment) -> Vec<PodPlace> {
    let Some(labels) = deployment.spec.selector.match_labels.as_ref() else {
        return Vec::new();
    };
    let selector = labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",");
    let Ok(pods) = session.pods(namespace, &selector) else {
        return Vec::new();
    };
    pods.into_iter()
        .map(|pod| PodPlace {
            name: pod.metadata.name.unwrap_or_default(),
            node: pod.spec.and_then(|spec| spec.node_name),
            ready: pod
                .status
                .and_then(|status| status.conditions)
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                }),
        })
        .collect()
}

fn resilience_mode(deployment: &Deployment) -> Option<Mode> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    let value = containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "CONSUMER_RESILIENCE")?
        .value
        .as_deref()?;
    Mode::from_resilience(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consumer_mode_comes_from_its_resilience_variable() {
        let deployment = |value: &str| -> Deployment {
            serde_json::from_value(json!({
                "metadata": {"name": "my-consumer-app"},
                "spec": {"selector": {}, "template": {"spec": {"containers": [
                    {"name": "consumer-app", "env": [{"name": "CONSUMER_RESILIENCE", "value": value}]}
                ]}}}
            }))
            .unwrap()
        };
        assert_eq!(resilience_mode(&deployment("on")), Some(Mode::After));
        assert_eq!(resilience_mode(&deployment("off")), Some(Mode::Before));
        assert_eq!(resilience_mode(&deployment("maybe")), None);
    }
}
