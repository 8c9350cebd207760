//! Where the lab runs. Every command goes through the [`Target`] trait: `local`
//! (supervised processes) and `kubernetes` (kind, minikube, or any cluster).

#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod local;

use std::fmt;

use anyhow::Result;

use crate::service::{Mode, Service};
pub use crate::target_kind::TargetKind;

/// What `lab up` asks for.
#[derive(Debug, Clone, Default)]
// The Kubernetes-only fields are read only when the `kubernetes` feature is on.
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub struct UpOptions {
    /// `None` keeps the current mode (or `before` for a new lab).
    pub mode: Option<Mode>,
    /// Local: `None` keeps the recorded port (or the default); `Some(0)` picks a free port.
    pub provider_port: Option<u16>,
    pub consumer_port: Option<u16>,
    /// Local: `Some(true)` puts the fault proxy between consumer and provider,
    /// `Some(false)` takes it out, `None` keeps what the lab has.
    pub fault_proxy: Option<bool>,
    /// Local: the fault proxy's API port (`None`: the recorded one, else 8474) and its
    /// link's port (`None`: 8084; 0 lets the proxy pick).
    pub fault_proxy_port: Option<u16>,
    pub fault_proxy_link_port: Option<u16>,
    /// How long to wait for each service's readiness.
    pub ready_timeout: std::time::Duration,
    /// Kubernetes targets: the experiment whose consumer URL is rewritten (default: the
    /// repository's experiment.json, when it exists).
    pub experiment: Option<std::path::PathBuf>,
    /// `cluster` target: where the images come from (`REG/provider-app:dev`, ...).
    pub image_registry: Option<String>,
    /// kind, minikube: image builds and the clusters' node images.
    pub images: ImageOptions,
}

/// kind and minikube: how the images are built, and the node image of a new cluster.
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub struct ImageOptions {
    /// kind: the node image of a new cluster (`None`: kind's own).
    pub kind_image: Option<String>,
    /// minikube: the node image a new profile starts from, one that holds everything
    /// (scripts/kind-build.sh --minikube), so nothing is downloaded (`None`: minikube's
    /// own kicbase, with downloads).
    pub minikube_image: Option<String>,
    /// `docker build --build-arg NAME=VALUE` for both images.
    pub build_args: Vec<(String, String)>,
    /// The network `docker build` runs its steps in (`--network`).
    pub build_network: Option<String>,
    /// kind: worker nodes beside the control plane, at most [`MAX_KIND_WORKERS`]
    /// (`None`: a new cluster has none, an existing one is taken as it is).
    pub kind_workers: Option<u8>,
}

/// `--workers` at most: each kind node is a container with its own kubelet and
/// containerd (~300 MiB, some CPU), on machines of two cores.
pub const MAX_KIND_WORKERS: u8 = 4;

/// What `lab down` asks for.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub struct DownOptions {
    /// kind, minikube: delete the cluster too.
    pub delete_cluster: bool,
}

/// Health of one service as `lab status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Answers its readiness endpoint with 200.
    Ready,
    /// Runs but does not answer ready (the reason says what happened).
    Unhealthy(String),
    /// Recorded as running, but the process is gone (crashed, or killed from outside).
    Exited,
}

impl Health {
    pub fn is_ready(&self) -> bool {
        matches!(self, Health::Ready)
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Ready => f.write_str("ready"),
            Health::Unhealthy(reason) => write!(f, "unhealthy: {reason}"),
            Health::Exited => f.write_str("exited"),
        }
    }
}

/// One row of `lab status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    pub service: Service,
    pub pid: Option<u32>,
    pub port: u16,
    pub health: Health,
    /// Consumer only.
    pub mode: Option<Mode>,
    /// Consumer only: the circuit breaker state its readiness endpoint reports.
    pub circuit: Option<String>,
    /// Fault proxy only: its proxies with their active toxics (what its API lists), or
    /// why they could not be read.
    pub faults: Option<Result<Vec<crate::fault_proxy::Proxy>, String>>,
    /// Kubernetes only: the Deployment's pods and where they run.
    pub pods: Vec<PodPlace>,
}

/// One pod of a Deployment: its name, the node it was scheduled on, its readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPlace {
    pub name: String,
    pub node: Option<String>,
    pub ready: bool,
}

/// A place the lab runs on. Methods print their own progress for the user.
pub trait Target {
    /// Brings the lab up (or repairs it) and returns the consumer's URL.
    fn up(&mut self, options: &UpOptions) -> Result<String>;
    /// The services that should run, with their health. `None` when no lab is up.
    fn status(&self) -> Result<Option<Vec<ServiceStatus>>>;
    /// Stops a service abruptly and removes it from the lab (`kill_microservice`).
    fn kill(&mut self, service: Service) -> Result<()>;
    /// Restarts the consumer in `mode` (the provider stays as it is).
    fn switch_mode(&mut self, mode: Mode, ready_timeout: std::time::Duration) -> Result<()>;
    /// Restarts the running consumer (in `mode`) with the resilience settings of
    /// `lab consumer set`. Local: its flags, which the restart reads from the state
    /// directory; Kubernetes: its Deployment's environment, the rollout awaited.
    fn configure_consumer(
        &mut self,
        settings: &crate::consumer_settings::ConsumerSettings,
        mode: Mode,
        ready_timeout: std::time::Duration,
    ) -> Result<()> {
        let _ = settings;
        self.switch_mode(mode, ready_timeout)
    }
    /// The settings the running consumer was given, where the target keeps them itself
    /// (Kubernetes: the Deployment's environment); `None`: the stored ones apply.
    fn consumer_configuration(&self) -> Result<Option<crate::consumer_settings::ConsumerSettings>> {
        Ok(None)
    }
    /// Prints a service's log; with `follow`, keeps printing until the service stops.
    fn logs(&self, service: Service, follow: bool) -> Result<()>;
    /// The URL of the consumer's `/invokeConsumedService`.
    fn consumer_url(&self) -> Result<String>;
    /// The token that lets a request change the provider's faults (`FAULT_API_TOKEN`).
    fn fault_token(&self) -> Result<String>;
    /// The fault proxy's API (Toxiproxy's), for `TOXIPROXY_URL`; an error saying how to
    /// get one when the lab has none.
    fn fault_proxy_url(&self) -> Result<String>;
    /// Stops everything and removes the state. Idempotent.
    fn down(&mut self, options: &DownOptions) -> Result<()>;
}

/// Opens the target of the given kind; `namespace` is `--namespace` (Kubernetes
/// targets), `started` what this command started (local).
pub fn open(
    kind: TargetKind,
    states: crate::state::StateDir,
    namespace: Option<String>,
    started: crate::interrupt::Started,
) -> Result<Box<dyn Target>> {
    match kind {
        TargetKind::Local => Ok(Box::new(local::Local::new(states, started))),
        #[cfg(feature = "kubernetes")]
        other => Ok(Box::new(kubernetes::Kubernetes::new(
            other, states, namespace,
        ))),
        #[cfg(not(feature = "kubernetes"))]
        other => {
            let _ = (namespace, started);
            anyhow::bail!(
                "this lab was built without Kubernetes support, so target `{other}` is not \
                 available; build it with the `kubernetes` feature (the default): \
                 `cargo build --release --workspace --bins`, or `make lab-up TARGET={other}`"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_target_opens() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["local", "kind", "minikube", "cluster"] {
            let kind = TargetKind::from_str(name, false).unwrap();
            assert_eq!(kind.as_str(), name);
            let states = crate::state::StateDir::at(dir.path());
            let opened = open(
                kind,
                states,
                None,
                crate::interrupt::Started::new(crate::interrupt::Ownership::HandOver),
            );
            // Without the `kubernetes` feature only `local` opens; the rest say why.
            assert_eq!(
                opened.is_ok(),
                kind == TargetKind::Local || cfg!(feature = "kubernetes"),
                "{name}"
            );
        }
    }
}
