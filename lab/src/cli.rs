//! The command line: what each `lab` command takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::service::{Mode, Service};
use crate::target_kind::TargetKind;
use crate::targets::ImageOptions;

/// Cascade Lab: run the cascading-failure lab, break it, fix it, and watch the story.
#[derive(Debug, Parser)]
#[command(name = "lab", version, propagate_version = true)]
pub struct Cli {
    /// Where the lab runs [default: the running lab's target, else local]
    #[arg(long, global = true, value_enum, env = "LAB_TARGET")]
    pub target: Option<TargetKind>,

    /// Kubernetes targets: the namespace of the lab [default: the running lab's, else
    /// `default`]
    #[arg(
        long,
        short = 'n',
        global = true,
        env = "LAB_NAMESPACE",
        value_name = "NS"
    )]
    pub namespace: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the provider and the consumer (or repair a lab whose services died)
    Up(UpArgs),
    /// Show each service: pid, port, health, consumer mode, circuit state
    Status {
        /// Exit 0 only if every service that should run is healthy (for experiments)
        #[arg(long)]
        check: bool,
    },
    /// Stop a service abruptly (SIGKILL) and remove it from the lab until `lab up`
    Kill {
        /// The service, by its tutorial name
        #[arg(value_enum)]
        name: Service,
    },
    /// Restart the consumer with resilience on (the "after" system)
    Fix(ReadyArgs),
    /// Restart the consumer with resilience off (the "before" system)
    Break(ReadyArgs),
    /// Print a service's log
    Logs {
        #[arg(value_enum)]
        name: Service,
        /// Keep printing new lines until the service stops or Ctrl-C
        #[arg(long, short)]
        follow: bool,
    },
    /// Print the consumer's URL (what the experiment's http probe calls), or the fault
    /// proxy's API (`TOXIPROXY_URL` for experiments)
    Address {
        /// Print the fault proxy's API URL instead (`lab up --fault-proxy`)
        #[arg(long, conflicts_with = "write")]
        fault_proxy: bool,
        /// Also write it into this experiment's `consumer-service-must-still-respond`
        /// probe, changing nothing else in the file
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Print the token that lets a request change the provider's faults:
    /// `curl -H "Authorization: Bearer $(lab fault-token)" ...`, or FAULT_API_TOKEN for
    /// the experiments
    FaultToken,
    /// Stop everything and remove the state (safe to run twice)
    Down {
        /// kind, minikube: delete the cluster too (kept by default: creating one is slow)
        #[arg(long)]
        delete_cluster: bool,
    },
    /// The whole story, narrated: the failure, the fix, the passing re-run
    Demo(DemoArgs),
    /// The scenario catalogue: list, show or run a story (kill, slow, hang, latency,
    /// errors, retry-storm)
    Scenario(crate::demo::catalogue::ScenarioArgs),
    /// Graded exercises: tune the consumer (`lab consumer set`) until a scenario's users
    /// get what the goal says
    Challenge(crate::challenge::ChallengeArgs),
    /// The consumer's resilience settings (timeouts, breaker, bulkhead, retries): show,
    /// set or reset them; a running consumer restarts with them
    Consumer(crate::consumer_settings::ConsumerArgs),
    /// Send users' requests to the consumer at a fixed rate and show what they got
    Traffic(crate::traffic::command::TrafficArgs),
    /// Serve a live dashboard of the running lab on 127.0.0.1 (users' requests, latency,
    /// provider, circuit) until Ctrl-C
    Dashboard(crate::dashboard::command::DashboardArgs),
    /// Run an experiment from inside the cluster (kind, minikube): a Job with its own
    /// least-privilege ServiceAccount; stream its log, copy the journal out, exit with
    /// the runner's code
    ClusterRun(crate::cluster_run::ClusterRunArgs),
    /// kind: a worker node fails: stop (power cut), start, pause (frozen), unpause
    Node(crate::node_command::NodeArgs),
}

#[derive(Debug, Args)]
pub struct ReadyArgs {
    /// Seconds to wait for a service to become ready [default: 30 locally, 180 for the
    /// rollout on Kubernetes]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

impl ReadyArgs {
    pub fn timeout_for(&self, target: TargetKind) -> std::time::Duration {
        let default = if target == TargetKind::Local { 30 } else { 180 };
        std::time::Duration::from_secs(self.timeout.unwrap_or(default))
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Which consumer to run: before (no resilience) or after (fixed) [default: the
    /// running lab's mode, else before]
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Provider port on 127.0.0.1 (0 picks a free one) [default: 8080]
    #[arg(long, value_name = "PORT")]
    pub provider_port: Option<u16>,
    /// Consumer port on 127.0.0.1 (0 picks a free one) [default: 8081]
    #[arg(long, value_name = "PORT")]
    pub consumer_port: Option<u16>,
    /// Local: put the fault proxy (Toxiproxy's API) between consumer and provider; its
    /// `provider` proxy takes latency, resets and HTTP errors (`lab address
    /// --fault-proxy` prints its API) [default: what the running lab has, else no]
    #[arg(long, overrides_with = "no_fault_proxy")]
    pub fault_proxy: bool,
    /// Local: take the fault proxy out again (the consumer then calls the provider)
    #[arg(long)]
    pub no_fault_proxy: bool,
    /// The fault proxy's API port on 127.0.0.1 (0 picks a free one) [default: 8474]
    #[arg(long, value_name = "PORT")]
    pub fault_proxy_port: Option<u16>,
    /// The port the fault proxy's `provider` proxy listens on (0 picks a free one)
    /// [default: 8084]
    #[arg(long, value_name = "PORT")]
    pub fault_proxy_link_port: Option<u16>,
    /// `cluster` target: pull the images from this registry (REG/provider-app:dev,
    /// REG/consumer-app:dev) instead of cascade-lab/*:dev
    #[arg(long, value_name = "REG")]
    pub image_registry: Option<String>,
    /// Kubernetes targets: the experiment whose consumer URL is rewritten [default:
    /// experiment.json of the repository]
    #[arg(long, value_name = "FILE")]
    pub experiment: Option<PathBuf>,
    #[command(flatten)]
    pub images: ImageArgs,
    #[command(flatten)]
    pub ready: ReadyArgs,
}

/// kind and minikube: how the images are built, and kind's node image.
#[derive(Debug, Args, Clone, Default)]
pub struct ImageArgs {
    /// kind: the node image of a new cluster (`kind create cluster --image`) [default:
    /// kind's own]
    #[arg(long, value_name = "IMAGE", env = "LAB_KIND_IMAGE")]
    pub kind_image: Option<String>,
    /// minikube: the node image a new profile starts from (`minikube start --base-image`,
    /// offline: one built by scripts/kind-build.sh --minikube) [default: minikube's own]
    #[arg(long, value_name = "IMAGE", env = "LAB_MINIKUBE_IMAGE")]
    pub minikube_image: Option<String>,
    /// kind, minikube: a `docker build --build-arg` for both images, e.g.
    /// RUST_IMAGE=rust:1.95-slim-bookworm (repeat it, or comma-separate in the env var)
    #[arg(
        long = "build-arg",
        value_name = "NAME=VALUE",
        env = "LAB_BUILD_ARGS",
        value_delimiter = ',',
        value_parser = parse_build_arg
    )]
    pub build_args: Vec<(String, String)>,
    /// kind, minikube: the network `docker build` runs its steps in (`--network`)
    #[arg(long, value_name = "NETWORK", env = "LAB_BUILD_NETWORK")]
    pub build_network: Option<String>,
    /// kind: worker nodes beside the control plane, 0 to 4 (a new cluster is made so; an
    /// existing one of another shape is an error) [default: none for a new cluster]
    #[arg(long, value_name = "N", env = "LAB_KIND_WORKERS",
          value_parser = clap::value_parser!(u8).range(0..=i64::from(crate::targets::MAX_KIND_WORKERS)))]
    pub workers: Option<u8>,
}

impl From<ImageArgs> for ImageOptions {
    fn from(args: ImageArgs) -> ImageOptions {
        ImageOptions {
            kind_image: args.kind_image,
            minikube_image: args.minikube_image,
            build_args: args.build_args,
            build_network: args.build_network,
            kind_workers: args.workers,
        }
    }
}

/// `NAME=VALUE`, NAME as Docker takes it (letters, digits, `_`; not starting with a digit).
fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a build argument name (letters, digits and _, not starting with a digit)"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which story (`lab scenario list` describes each)
    #[arg(long, value_enum, default_value_t)]
    pub scenario: crate::demo::scenario::Scenario,
    /// Seconds the experiment waits after killing the provider (the tutorial's 15 s;
    /// the kill story only)
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub pause: u64,
    /// Provider port on 127.0.0.1 (0 picks a free one)
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub provider_port: u16,
    /// Consumer port on 127.0.0.1 (0 picks a free one)
    #[arg(long, value_name = "PORT", default_value_t = 8081)]
    pub consumer_port: u16,
    /// The experiment runner: chaos-runner next to lab by default; the Python Chaos
    /// Toolkit's `chaos` works too
    #[arg(long, value_name = "PATH")]
    pub runner: Option<PathBuf>,
    /// Serve the live dashboard during the story, then both runs side by side
    #[arg(long)]
    pub dashboard: bool,
    /// Where --dashboard serves (a loopback address; port 0 picks a free one)
    #[arg(long, value_name = "IP:PORT", default_value = crate::dashboard::command::DEFAULT_ADDR,
          value_parser = crate::traffic::limits::loopback, requires = "dashboard")]
    pub dashboard_addr: std::net::SocketAddr,
    /// After the story, keep serving the dashboard this many seconds (at most 3600)
    /// [default: until Ctrl-C]
    #[arg(long, value_name = "SECONDS", value_parser = crate::traffic::limits::duration,
          requires = "dashboard")]
    pub dashboard_linger: Option<std::time::Duration>,
    #[command(flatten)]
    pub ready: ReadyArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unknown_service_names_are_rejected_with_the_valid_ones() {
        let err = Cli::try_parse_from(["lab", "kill", "provider"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("my-provider-app"), "{err}");
        assert!(err.contains("my-consumer-app"), "{err}");
    }

    #[test]
    fn kubernetes_targets_parse() {
        let cli = Cli::try_parse_from(["lab", "up", "--target", "kind"]).unwrap();
        assert_eq!(cli.target, Some(TargetKind::Kind));
        let cli = Cli::try_parse_from(["lab", "down", "--target", "minikube"]).unwrap();
        assert_eq!(cli.target, Some(TargetKind::Minikube));
        let cli = Cli::try_parse_from([
            "lab",
            "up",
            "--target",
            "cluster",
            "-n",
            "lab1",
            "--image-registry",
            "r.io/me",
        ])
        .unwrap();
        assert_eq!(cli.namespace.as_deref(), Some("lab1"));
        let Command::Up(args) = cli.command else {
            panic!("not up")
        };
        assert_eq!(args.image_registry.as_deref(), Some("r.io/me"));
        assert_eq!(
            args.ready.timeout_for(TargetKind::Cluster),
            std::time::Duration::from_secs(180)
        );
        assert_eq!(
            args.ready.timeout_for(TargetKind::Local),
            std::time::Duration::from_secs(30)
        );
    }

    #[test]
    fn build_args_and_the_kind_node_image_parse() {
        let cli = Cli::try_parse_from([
            "lab",
            "up",
            "--target",
            "kind",
            "--kind-image",
            "local/node:v1",
            "--build-arg",
            "RUST_IMAGE=local/rust:1.95",
            "--build-arg",
            "RUNTIME_IMAGE=local/cc:1,RUST_VERSION=1.95",
            "--build-network",
            "host",
        ])
        .unwrap();
        let Command::Up(args) = cli.command else {
            panic!("not up")
        };
        assert_eq!(args.images.kind_image.as_deref(), Some("local/node:v1"));
        assert_eq!(args.images.build_network.as_deref(), Some("host"));
        let names: Vec<&str> = args
            .images
            .build_args
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["RUST_IMAGE", "RUNTIME_IMAGE", "RUST_VERSION"]);
        assert_eq!(args.images.build_args[0].1, "local/rust:1.95");
    }

    #[test]
    fn a_malformed_build_arg_is_refused_naming_the_flag() {
        for bad in ["RUST_IMAGE", "1X=y", "A-B=c", "=v"] {
            let err = Cli::try_parse_from(["lab", "up", "--build-arg", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--build-arg"), "{bad}: {err}");
        }
    }

    #[test]
    fn demo_defaults_to_the_tutorial_pause() {
        let cli = Cli::try_parse_from(["lab", "demo"]).unwrap();
        let Command::Demo(args) = cli.command else {
            panic!("not demo")
        };
        assert_eq!(args.pause, 15);
        assert_eq!((args.provider_port, args.consumer_port), (8080, 8081));
    }
}
