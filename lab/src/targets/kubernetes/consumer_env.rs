//! The consumer's resilience settings (`lab consumer set`) on a cluster: the consumer
//! reads each of its flags from an environment variable too, so the settings live in its
//! Deployment's environment, changed through the command's `chaosk8s::Session`. The
//! variables of settings left unset are removed (the consumer's defaults); every other
//! variable (the overlays' `CONSUMER_RESILIENCE`, `PROVIDER_URL`...) is kept, so a later
//! `kubectl apply -k` of an overlay (`lab fix`, `lab break`) keeps them as well.

use anyhow::{Context, Result};
use chaosk8s::Session;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, EnvVar};

use crate::consumer_settings::ConsumerSettings;
use crate::service::Service;

/// The consumer's container in its Deployment (manifests/base).
const CONTAINER: &str = "consumer-app";

fn container(deployment: &mut Deployment) -> Option<&mut Container> {
    let containers = &mut deployment.spec.template.spec.as_mut()?.containers;
    let index = containers
        .iter()
        .position(|c| c.name == CONTAINER)
        .unwrap_or(0);
    containers.get_mut(index)
}

/// Gives the consumer's Deployment in `namespace` these settings; `false` when it already
/// had them (nothing changed, no rollout) or there is no consumer Deployment. A change
/// made meanwhile (the controller writing the status of a Deployment just applied) is
/// a conflict: read again and retry, a few times.
pub fn set(session: &Session, namespace: &str, settings: &ConsumerSettings) -> Result<bool> {
    let mut tries = 0;
    loop {
        match try_set(session, namespace, settings) {
            Err(err) if tries < 5 && is_conflict(&err) => tries += 1,
            other => return other,
        }
    }
}

fn is_conflict(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<chaosk8s::Error>(),
            Some(chaosk8s::Error::Api { code: 409, .. })
        )
    })
}

fn try_set(session: &Session, namespace: &str, settings: &ConsumerSettings) -> Result<bool> {
    let name = Service::Consumer.name();
    let Some(mut deployment) = session
        .deployment(namespace, name)
        .with_context(|| format!("cannot read deployment {name} in namespace '{namespace}'"))?
    else {
        return Ok(false);
    };
    let Some(container) = container(&mut deployment) else {
        return Ok(false);
    };
    let before = container.env.clone().unwrap_or_default();
    let mut env: Vec<EnvVar> = before
        .iter()
        .filter(|var| !ConsumerSettings::is_setting_env(&var.name))
        .cloned()
        .collect();
    env.extend(settings.env().into_iter().map(|(name, value)| EnvVar {
        name,
        value: Some(value),
        ..EnvVar::default()
    }));
    if env == before {
        return Ok(false);
    }
    container.env = Some(env);
    session
        .replace_deployment(namespace, &deployment)
        .with_context(|| {
            format!("cannot change deployment {name}'s environment in namespace '{namespace}'")
        })?;
    Ok(true)
}

/// The settings the consumer's Deployment carries; `None` without a consumer Deployment.
pub fn get(session: &Session, namespace: &str) -> Result<Option<ConsumerSettings>> {
    let name = Service::Consumer.name();
    let Some(mut deployment) = session
        .deployment(namespace, name)
        .with_context(|| format!("cannot read deployment {name} in namespace '{namespace}'"))?
    else {
        return Ok(None);
    };
    let Some(container) = container(&mut deployment) else {
        return Ok(None);
    };
    let env = container.env.clone().unwrap_or_default();
    Ok(Some(ConsumerSettings::from_env(env.iter().filter_map(
        |var| Some((var.name.as_str(), var.value.as_deref()?)),
    ))))
}
