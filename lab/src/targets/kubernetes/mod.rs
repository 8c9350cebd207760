//! The Kubernetes targets (`kind`, `minikube`, `cluster`): the manifests applied with
//! `kubectl apply -k`, everything read through kube-rs (the `chaosk8s` crate's client, so
//! the lab and the experiment see the same cluster the same way).
//!
//! The three differ only before the apply (`images`: which cluster, which images) and in
//! how the consumer's node port is reached (`address`). The state records the target,
//! namespace and context, so later commands default to them.

pub mod address;
mod images;
pub mod repo;
mod rollout;
pub mod tools;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service as KubeService};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Map, Value, json};

use self::repo::Repo;
use self::tools::Tool;
use crate::experiment_file;
use crate::service::{Mode, Service};
use crate::state::{KubernetesRecord, State, StateDir};
use crate::targets::{Health, KubeOptions, ServiceStatus, Target, TargetKind, UpOptions};
use crate::ui;

/// The namespace when neither `--namespace` nor the state says one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A lab on a Kubernetes cluster.
pub struct Kubernetes {
    kind: TargetKind,
    states: StateDir,
    options: KubeOptions,
    runtime: tokio::runtime::Runtime,
}

/// The Kubernetes Service in front of each lab service.
fn kube_service_name(service: Service) -> &'static str {
    match service {
        Service::Provider => "my-provider-service",
        Service::Consumer => address::CONSUMER_SERVICE,
    }
}

impl Kubernetes {
    pub fn new(kind: TargetKind, states: StateDir, options: KubeOptions) -> Result<Kubernetes> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Kubernetes {
            kind,
            states,
            options,
            runtime,
        })
    }

    /// The recorded state, if it belongs to this target; another target's lab is an error.
    fn own_state(&self) -> Result<Option<State>> {
        let Some(state) = self.states.load()? else {
            return Ok(None);
        };
        if state.target != self.kind {
            bail!(
                "the lab here runs on target `{}`; use `--target {}` or `lab down --target {}` first",
                state.target,
                state.target,
                state.target
            );
        }
        Ok(Some(state))
    }

    /// `--namespace`, else the recorded one, else `default`.
    fn namespace(&self, state: Option<&State>) -> String {
        self.options
            .namespace
            .clone()
            .or_else(|| {
                state
                    .and_then(|s| s.kubernetes.as_ref())
                    .map(|k| k.namespace.clone())
            })
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
    }

    /// The kubeconfig context: kind and minikube name theirs; `cluster` uses the current.
    fn context(&self, repo: Option<&Repo>) -> Result<Option<String>> {
        Ok(match self.kind {
            TargetKind::Kind => {
                let repo = match repo {
                    Some(repo) => repo.clone(),
                    None => Repo::locate()?,
                };
                Some(format!("kind-{}", repo.kind_cluster_name()?))
            }
            TargetKind::Minikube => Some("minikube".to_string()),
            _ => None,
        })
    }

    fn client(&self, context: Option<&str>) -> Result<kube::Client> {
        self.runtime
            .block_on(chaosk8s::client_from_env(context))
            .context("cannot configure access to the Kubernetes cluster")
    }

    /// `kubectl [--context C] ARGS`.
    fn kubectl(context: Option<&str>, args: &[&str]) -> Result<String> {
        let mut all: Vec<&str> = Vec::new();
        if let Some(context) = context {
            all.extend(["--context", context]);
        }
        all.extend_from_slice(args);
        Tool::Kubectl.output(all)
    }

    /// Creates the namespace when it does not exist yet (`lab up --namespace NEW`).
    fn ensure_namespace(&self, client: &kube::Client, namespace: &str) -> Result<()> {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        self.runtime.block_on(async {
            if namespaces
                .get_opt(namespace)
                .await
                .with_context(|| format!("cannot read namespace '{namespace}'"))?
                .is_some()
            {
                return Ok(());
            }
            let object: Namespace = serde_json::from_value(json!({
                "metadata": {"name": namespace}
            }))
            .context("cannot build the namespace object")?;
            match namespaces.create(&PostParams::default(), &object).await {
                Ok(_) => {
                    ui::info(format!("created namespace '{namespace}'"));
                    Ok(())
                }
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                Err(err) => {
                    Err(err).with_context(|| format!("cannot create namespace '{namespace}'"))
                }
            }
        })
    }

    /// Applies the overlay for `mode` (through a registry kustomization when images come
    /// from `--image-registry`).
    fn apply(&self, repo: &Repo, record: &KubernetesRecord, mode: Mode) -> Result<()> {
        let overlay = repo.overlay(mode);
        let dir = match &record.image_registry {
            Some(registry) => {
                let dir = self.states.root().join("k8s-kustomize").join(mode.as_str());
                repo::registry_kustomization(&dir, &overlay, registry)?;
                dir
            }
            None => overlay,
        };
        ui::info(format!(
            "applying the `{mode}` manifests in namespace '{}'",
            record.namespace
        ));
        let dir = dir.to_string_lossy().into_owned();
        let out = Self::kubectl(
            record.context.as_deref(),
            &["apply", "-k", &dir, "-n", &record.namespace],
        )?;
        tracing::debug!(output = %out, "kubectl apply");
        Ok(())
    }

    fn wait(
        &self,
        client: &kube::Client,
        namespace: &str,
        services: &[Service],
        timeout: Duration,
    ) -> Result<()> {
        let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
        self.runtime
            .block_on(rollout::wait(client, namespace, &names, timeout))
    }

    /// The record of the running lab, or an error saying to bring one up.
    fn running(&self) -> Result<(State, KubernetesRecord)> {
        let state = self.own_state()?;
        let Some(state) = state else {
            bail!(
                "no lab is up on target `{}` (no state in {}); start one with `lab up --target {}`",
                self.kind,
                self.states.root().display(),
                self.kind
            );
        };
        let record = state
            .kubernetes
            .clone()
            .unwrap_or_else(|| KubernetesRecord {
                namespace: self.namespace(Some(&state)),
                context: None,
                image_registry: None,
                experiment: None,
            });
        Ok((state, record))
    }

    fn status_rows(&self, record: &KubernetesRecord) -> Result<Vec<ServiceStatus>> {
        let client = self.client(record.context.as_deref())?;
        let namespace = record.namespace.as_str();
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let services: Api<KubeService> = Api::namespaced(client, namespace);
        self.runtime.block_on(async {
            let mut rows = Vec::new();
            for service in Service::ALL {
                let Some(deployment) = deployments
                    .get_opt(service.name())
                    .await
                    .with_context(|| format!("cannot read deployment {service}"))?
                else {
                    continue; // deleted (killed): not part of the lab until `lab up`
                };
                let port = services
                    .get_opt(kube_service_name(service))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| s.spec)
                    .and_then(|spec| spec.ports)
                    .and_then(|ports| ports.into_iter().next())
                    .map(|p| match service {
                        Service::Consumer => p.node_port.unwrap_or(p.port),
                        Service::Provider => p.port,
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
                rows.push(ServiceStatus {
                    service,
                    pid: None,
                    port,
                    health,
                    mode,
                    circuit: None,
                });
            }
            Ok(rows)
        })
    }
}

/// The consumer Deployment's mode, from its `CONSUMER_RESILIENCE` variable.
fn resilience_mode(deployment: &Deployment) -> Option<Mode> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    let value = containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "CONSUMER_RESILIENCE")?
        .value
        .clone()?;
    match value.as_str() {
        "on" => Some(Mode::After),
        "off" => Some(Mode::Before),
        _ => None,
    }
}

/// kind: kube-proxy programs the node port a moment after the pods are ready, so the
/// consumer's address may refuse connections for a second or two after the rollout. The
/// address `lab up` prints must answer: wait for its readiness through the node port.
fn wait_for_node_port(url: &str, timeout: Duration) -> Result<()> {
    let port = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .with_context(|| format!("no port in the consumer's address {url}"))?;
    let client = crate::health::client()?;
    crate::health::wait_ready(&client, port, timeout, || None).map_err(|err| {
        let why = match err {
            crate::health::WaitError::Interrupted => return anyhow::anyhow!("interrupted"),
            crate::health::WaitError::TimedOut(why) | crate::health::WaitError::Exited(why) => why,
        };
        anyhow::anyhow!(
            "the rollout finished, but the consumer does not answer on 127.0.0.1:{port} \
             within {}s (kind's port mapping, kind/cluster.yaml): {why}",
            timeout.as_secs()
        )
    })
}

impl Target for Kubernetes {
    fn up(&mut self, options: &UpOptions) -> Result<String> {
        let _lock = self.states.lock()?;
        let state = self.own_state()?;
        Tool::Kubectl.locate()?;
        let repo = Repo::locate()?;
        let mode = options
            .mode
            .or_else(|| state.as_ref().map(|s| s.mode))
            .unwrap_or_default();
        let image_registry = self.options.image_registry.clone().or_else(|| {
            state
                .as_ref()
                .and_then(|s| s.kubernetes.as_ref())
                .and_then(|k| k.image_registry.clone())
        });
        if let Some(registry) = &image_registry {
            repo::check_registry(registry)?;
        }
        match self.kind {
            TargetKind::Kind => images::prepare_kind(&repo, &self.options.images)?,
            TargetKind::Minikube => images::prepare_minikube(&repo, &self.options.images)?,
            _ => {}
        }
        let recorded = state.as_ref().and_then(|s| s.kubernetes.as_ref());
        let record = KubernetesRecord {
            namespace: self.namespace(state.as_ref()),
            context: self.context(Some(&repo))?,
            image_registry,
            experiment: options
                .experiment
                .clone()
                .or_else(|| recorded.and_then(|r| r.experiment.clone())),
        };
        let client = self.client(record.context.as_deref())?;
        self.ensure_namespace(&client, &record.namespace)?;
        self.apply(&repo, &record, mode)?;
        // Recorded before waiting, so `lab down` finds a lab whose rollout failed.
        let mut new_state = State::new(self.kind, mode);
        new_state.kubernetes = Some(record.clone());
        self.states.save(&new_state)?;
        self.wait(
            &client,
            &record.namespace,
            &Service::ALL,
            options.ready_timeout,
        )?;
        let url = self.runtime.block_on(address::consumer_url(
            &client,
            self.kind,
            &record.namespace,
            &repo.kind_config(),
        ))?;
        if self.kind == TargetKind::Kind {
            wait_for_node_port(&url, options.ready_timeout)?;
        }
        let experiment = record
            .experiment
            .clone()
            .unwrap_or_else(|| repo.experiment());
        if record.experiment.is_some() || experiment.is_file() {
            experiment_file::write_consumer_url(&experiment, &url)?;
            ui::info(format!(
                "wrote the consumer's URL into {}",
                experiment.display()
            ));
        }
        Ok(url)
    }

    fn status(&self) -> Result<Option<Vec<ServiceStatus>>> {
        if self.own_state()?.is_none() {
            return Ok(None);
        }
        let (_, record) = self.running()?;
        self.status_rows(&record).map(Some)
    }

    fn kill(&mut self, service: Service) -> Result<()> {
        let (_, record) = self.running()?;
        let mut arguments = Map::new();
        arguments.insert("name".into(), Value::String(service.name().into()));
        arguments.insert("ns".into(), Value::String(record.namespace.clone()));
        let mut secrets = Map::new();
        if let Some(context) = &record.context {
            secrets.insert("KUBERNETES_CONTEXT".into(), Value::String(context.clone()));
        }
        // The experiment's own action, so `lab kill` is exactly what the tutorial does.
        chaosk8s::call(
            "chaosk8s.actions",
            "kill_microservice",
            &arguments,
            &Map::new(),
            &secrets,
        )
        .with_context(|| format!("cannot kill {service} in namespace '{}'", record.namespace))?;
        ui::info(format!(
            "deleted deployment {service} and its pods in namespace '{}' (`lab up` brings it back)",
            record.namespace
        ));
        Ok(())
    }

    fn switch_mode(&mut self, mode: Mode, ready_timeout: Duration) -> Result<()> {
        let _lock = self.states.lock()?;
        let (mut state, record) = self.running()?;
        let repo = Repo::locate()?;
        self.apply(&repo, &record, mode)?;
        state.mode = mode;
        self.states.save(&state)?;
        let client = self.client(record.context.as_deref())?;
        self.wait(
            &client,
            &record.namespace,
            &[Service::Consumer],
            ready_timeout,
        )?;
        ui::info(format!(
            "the consumer runs with resilience {} (`{mode}`)",
            mode.resilience()
        ));
        Ok(())
    }

    fn logs(&self, service: Service, follow: bool) -> Result<()> {
        let (_, record) = self.running()?;
        let deployment = format!("deployment/{}", service.name());
        let mut args: Vec<&str> = Vec::new();
        if let Some(context) = record.context.as_deref() {
            args.extend(["--context", context]);
        }
        args.extend([
            "logs",
            &deployment,
            "-n",
            &record.namespace,
            "--all-containers=true",
        ]);
        if follow {
            args.push("--follow");
        }
        Tool::Kubectl.interactive(args)
    }

    fn consumer_url(&self) -> Result<String> {
        let state = self.own_state()?;
        let namespace = self.namespace(state.as_ref());
        let repo = Repo::locate().ok();
        let context = match state.as_ref().and_then(|s| s.kubernetes.as_ref()) {
            Some(record) => record.context.clone(),
            None => self.context(repo.as_ref())?,
        };
        let client = self.client(context.as_deref())?;
        let kind_config = repo
            .map(|r| r.kind_config())
            .unwrap_or_else(|| "kind/cluster.yaml".into());
        self.runtime.block_on(address::consumer_url(
            &client,
            self.kind,
            &namespace,
            &kind_config,
        ))
    }

    fn down(&mut self) -> Result<()> {
        let _lock = self.states.lock()?;
        let state = self.own_state()?;
        Tool::Kubectl.locate()?;
        let repo = Repo::locate()?;
        let namespace = self.namespace(state.as_ref());
        let context = match state.as_ref().and_then(|s| s.kubernetes.as_ref()) {
            Some(record) => record.context.clone(),
            None => self.context(Some(&repo))?,
        };
        let cluster_exists = match self.kind {
            TargetKind::Kind => {
                let name = repo.kind_cluster_name()?;
                Tool::Kind
                    .output(["get", "clusters"])?
                    .lines()
                    .any(|l| l.trim() == name)
            }
            _ => true,
        };
        if cluster_exists {
            // Both overlays create the same objects; either one names them all.
            let overlay = repo.overlay(Mode::Before).to_string_lossy().into_owned();
            ui::info(format!("deleting the lab from namespace '{namespace}'"));
            Self::kubectl(
                context.as_deref(),
                &[
                    "delete",
                    "-k",
                    &overlay,
                    "-n",
                    &namespace,
                    "--ignore-not-found=true",
                    "--wait=true",
                    "--timeout=120s",
                ],
            )?;
            if self.kind == TargetKind::Kind && self.options.delete_cluster {
                images::delete_kind_cluster(&repo)?;
            }
        }
        self.states.clear()?;
        Ok(())
    }
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
