//! The Kubernetes targets (`kind`, `minikube`, `cluster`): the manifests applied with
//! `kubectl apply -k` (`manifests`), everything read and the kill done through the
//! Kubernetes API on a `chaosk8s::Session` (`cluster`: the experiment's client, so the
//! lab and the experiment see the same cluster the same way).
//!
//! The three differ only before the apply (`images`: which cluster, which images) and in
//! how the consumer's node port is reached (`address`). The state records the target,
//! namespace and context, so later commands default to them.

pub mod address;
mod cluster;
mod consumer_env;
pub mod images;
mod kind_nodes;
mod manifests;
pub mod node_faults;
pub mod repo;
mod rollout;
pub mod tools;

use std::time::Duration;

use anyhow::{Context, Result, bail};

use self::repo::Repo;
use self::tools::Tool;
use crate::experiment_file;
use crate::service::{Mode, Service};
use crate::state::{KubernetesRecord, State, StateDir};
use crate::targets::{DownOptions, ServiceStatus, Target, TargetKind, UpOptions};
use crate::ui;

/// The namespace when neither `--namespace` nor the state says one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A lab on a Kubernetes cluster.
pub struct Kubernetes {
    kind: TargetKind,
    states: StateDir,
    /// `--namespace`: `None` means the recorded one, else `default`.
    namespace: Option<String>,
}

impl Kubernetes {
    pub fn new(kind: TargetKind, states: StateDir, namespace: Option<String>) -> Kubernetes {
        Kubernetes {
            kind,
            states,
            namespace,
        }
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
        self.namespace
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
            TargetKind::Kind => Some(match repo {
                Some(repo) => repo.kind_context()?,
                None => Repo::locate()?.kind_context()?,
            }),
            TargetKind::Minikube => Some("minikube".to_string()),
            _ => None,
        })
    }

    /// The recorded context, else this target's own.
    fn recorded_context(
        &self,
        state: Option<&State>,
        repo: Option<&Repo>,
    ) -> Result<Option<String>> {
        match state.and_then(|s| s.kubernetes.as_ref()) {
            Some(record) => Ok(record.context.clone()),
            None => self.context(repo),
        }
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
                fault_proxy: false,
            });
        Ok((state, record))
    }
}

/// kind, minikube: kube-proxy programs the node port a moment after the pods are ready,
/// so the consumer's address may refuse connections for a second or two after the
/// rollout. The
/// address `lab up` prints must answer: wait for its readiness through the node port,
/// then for the provider's Service to carry the consumer's calls (its rules too come a
/// moment after the pods; until then the naive consumer answers 500, connection refused).
fn wait_for_node_port(url: &str, timeout: Duration) -> Result<()> {
    let started = std::time::Instant::now();
    wait_for_consumer(url, timeout)?;
    let client = crate::health::client()?;
    let deadline = started + timeout;
    loop {
        crate::interrupt::check()?;
        let last = match client.get(url).send() {
            // Only a server error is the missing route to the provider.
            Ok(answer) if !answer.status().is_server_error() => return Ok(()),
            Ok(answer) => format!("HTTP {}", answer.status().as_u16()),
            Err(err) => err.to_string(),
        };
        if std::time::Instant::now() >= deadline {
            // Up as far as the lab can tell; say what the first user request will see.
            ui::warn(format!(
                "the consumer answers, but its calls to the provider still fail ({last}) \
                 {}s after the rollout",
                timeout.as_secs()
            ));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The consumer's readiness through the node port.
fn wait_for_consumer(url: &str, timeout: Duration) -> Result<()> {
    let mut ready = reqwest::Url::parse(url)
        .with_context(|| format!("the consumer's address {url} is not a URL"))?;
    ready.set_path("health/ready");
    let client = crate::health::client()?;
    crate::health::wait_ready(&client, ready.as_str(), timeout, || None).map_err(|err| {
        let why = match err {
            crate::health::WaitError::Interrupted => return anyhow::anyhow!("interrupted"),
            crate::health::WaitError::TimedOut(why) | crate::health::WaitError::Exited(why) => why,
        };
        anyhow::anyhow!(
            "the rollout finished, but the consumer does not answer at {ready} within {}s \
             (the node port; on kind, its port mapping in kind/cluster.yaml): {why}",
            timeout.as_secs()
        )
    })
}

impl Target for Kubernetes {
    fn up(&mut self, options: &UpOptions) -> Result<String> {
        let lock = self.states.lock()?;
        let state = self.own_state()?;
        Tool::Kubectl.locate()?;
        let repo = Repo::locate()?;
        let mode = options
            .mode
            .or_else(|| state.as_ref().map(|s| s.mode))
            .unwrap_or_default();
        let recorded = state.as_ref().and_then(|s| s.kubernetes.as_ref());
        let image_registry = options
            .image_registry
            .clone()
            .or_else(|| recorded.and_then(|k| k.image_registry.clone()));
        if let Some(registry) = &image_registry {
            repo::check_registry(registry)?;
        }
        let had_fault_proxy = recorded.is_some_and(|r| r.fault_proxy);
        let fault_proxy = options.fault_proxy.unwrap_or(had_fault_proxy);
        let services = Service::of_lab(fault_proxy);
        match self.kind {
            TargetKind::Kind => images::prepare_kind(&repo, &options.images, &services)?,
            TargetKind::Minikube => images::prepare_minikube(&repo, &options.images, &services)?,
            _ => {}
        }
        let record = KubernetesRecord {
            namespace: self.namespace(state.as_ref()),
            context: self.context(Some(&repo))?,
            image_registry,
            experiment: options
                .experiment
                .clone()
                .or_else(|| recorded.and_then(|r| r.experiment.clone())),
            fault_proxy,
        };
        let session = cluster::session(record.context.as_deref())?;
        cluster::ensure_namespace(&session, &record.namespace)?;
        // Before the apply: the provider reads it when its pod starts.
        let provider_ran =
            cluster::deployment_exists(&session, &record.namespace, Service::Provider.name())?;
        let secret = cluster::ensure_fault_token(&session, &record.namespace)?;
        manifests::apply(&repo, self.states.root(), &record, mode)?;
        // `lab consumer set`'s settings, kept in the state directory, follow the lab.
        consumer_env::set(
            &session,
            &record.namespace,
            &crate::consumer_settings::load(&self.states)?,
        )?;
        if had_fault_proxy && !fault_proxy {
            manifests::delete_fault_proxy(record.context.as_deref(), &record.namespace)?;
        }
        if provider_ran && secret == cluster::TokenSecret::Created {
            // A provider applied without lab (`kubectl apply -k`) started without the
            // token, and an unchanged template would not roll out: restart it.
            manifests::restart(
                record.context.as_deref(),
                &record.namespace,
                Service::Provider.name(),
            )?;
        }
        // Recorded before waiting, so `lab down` finds a lab whose rollout failed.
        let mut new_state = State::new(self.kind, mode);
        new_state.kubernetes = Some(record.clone());
        lock.save(&new_state)?;
        let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
        rollout::wait(&session, &record.namespace, &names, options.ready_timeout)?;
        let url =
            address::consumer_url(&session, self.kind, &record.namespace, &repo.kind_config())?;
        if matches!(self.kind, TargetKind::Kind | TargetKind::Minikube) {
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
        let session = cluster::session(record.context.as_deref())?;
        let mut rows = cluster::status_rows(&session, &record.namespace)?;
        // The circuit is the consumer's own state: ask it where its users reach it (the
        // node port on kind and minikube). Unreachable from here: no circuit shown.
        if let Some(consumer) = rows
            .iter_mut()
            .find(|r| r.service == Service::Consumer && r.health.is_ready())
            && let Ok(url) = self.consumer_url()
            && let Some(base) = url.strip_suffix("/invokeConsumedService")
            && let Ok(client) = crate::health::client()
            && let crate::health::Probe::Ready(Some(body)) =
                crate::health::probe_url(&client, &format!("{base}/health/ready"))
        {
            consumer.circuit = body.circuit;
        }
        Ok(Some(rows))
    }

    fn kill(&mut self, service: Service) -> Result<()> {
        let (_, record) = self.running()?;
        // The experiment's own action, so `lab kill` is exactly what the tutorial does.
        cluster::session(record.context.as_deref())?
            .kill_microservice(service.name(), &record.namespace)
            .with_context(|| {
                format!("cannot kill {service} in namespace '{}'", record.namespace)
            })?;
        ui::info(format!(
            "deleted deployment {service} and its pods in namespace '{}' (`lab up` brings it back)",
            record.namespace
        ));
        Ok(())
    }

    fn switch_mode(&mut self, mode: Mode, ready_timeout: Duration) -> Result<()> {
        let lock = self.states.lock()?;
        let (mut state, record) = self.running()?;
        let repo = Repo::locate()?;
        manifests::apply(&repo, self.states.root(), &record, mode)?;
        state.mode = mode;
        lock.save(&state)?;
        let session = cluster::session(record.context.as_deref())?;
        rollout::wait(
            &session,
            &record.namespace,
            &[Service::Consumer.name()],
            ready_timeout,
        )?;
        ui::info(format!(
            "the consumer runs with resilience {} (`{mode}`)",
            mode.resilience()
        ));
        Ok(())
    }

    fn configure_consumer(
        &mut self,
        settings: &crate::consumer_settings::ConsumerSettings,
        _mode: Mode,
        ready_timeout: Duration,
    ) -> Result<()> {
        let (_, record) = self.running()?;
        let session = cluster::session(record.context.as_deref())?;
        if consumer_env::set(&session, &record.namespace, settings)? {
            ui::info(format!(
                "changed deployment {}'s environment in namespace '{}'",
                Service::Consumer,
                record.namespace
            ));
        }
        rollout::wait(
            &session,
            &record.namespace,
            &[Service::Consumer.name()],
            ready_timeout,
        )
    }

    fn consumer_configuration(&self) -> Result<Option<crate::consumer_settings::ConsumerSettings>> {
        if self.own_state()?.is_none() {
            return Ok(None);
        }
        let (_, record) = self.running()?;
        let session = cluster::session(record.context.as_deref())?;
        consumer_env::get(&session, &record.namespace)
    }

    fn logs(&self, service: Service, follow: bool) -> Result<()> {
        let (_, record) = self.running()?;
        manifests::logs(
            record.context.as_deref(),
            &record.namespace,
            service.name(),
            follow,
        )
    }

    fn consumer_url(&self) -> Result<String> {
        let state = self.own_state()?;
        let namespace = self.namespace(state.as_ref());
        let repo = Repo::locate().ok();
        let context = self.recorded_context(state.as_ref(), repo.as_ref())?;
        let session = cluster::session(context.as_deref())?;
        let kind_config = repo
            .map(|r| r.kind_config())
            .unwrap_or_else(|| "kind/cluster.yaml".into());
        address::consumer_url(&session, self.kind, &namespace, &kind_config)
    }

    fn fault_proxy_url(&self) -> Result<String> {
        let (_, record) = self.running()?;
        if !record.fault_proxy {
            anyhow::bail!(
                "this lab has no fault proxy; `lab up --target {} --fault-proxy` puts one \
                 between the consumer and the provider",
                self.kind
            );
        }
        // On a cluster the API listens on the proxy pod's loopback only: no pod can change
        // the faults, and the one way in is a port-forward the user starts and stops.
        anyhow::bail!(
            "on Kubernetes the fault proxy's API listens on its pod's loopback only; reach it \
             with `kubectl port-forward -n {} deployment/fault-proxy 8474:8474` and use \
             TOXIPROXY_URL=http://127.0.0.1:8474",
            record.namespace
        )
    }

    fn fault_token(&self) -> Result<String> {
        let state = self.own_state()?;
        let namespace = self.namespace(state.as_ref());
        let context = self.recorded_context(state.as_ref(), Repo::locate().ok().as_ref())?;
        let session = cluster::session(context.as_deref())?;
        cluster::fault_token(&session, &namespace)?.with_context(|| {
            format!(
                "namespace '{namespace}' has no Secret {} with a fault token; `lab up --target {}` creates it",
                crate::fault_token::SECRET_NAME,
                self.kind
            )
        })
    }

    fn down(&mut self, options: &DownOptions) -> Result<()> {
        let lock = self.states.lock()?;
        let state = self.own_state()?;
        Tool::Kubectl.locate()?;
        let repo = Repo::locate()?;
        let namespace = self.namespace(state.as_ref());
        let context = self.recorded_context(state.as_ref(), Some(&repo))?;
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
            manifests::delete(&repo, context.as_deref(), &namespace)?;
            if options.delete_cluster {
                match self.kind {
                    TargetKind::Kind => images::delete_kind_cluster(&repo)?,
                    TargetKind::Minikube => images::delete_minikube()?,
                    _ => {}
                }
            }
        }
        lock.clear()?;
        Ok(())
    }
}
