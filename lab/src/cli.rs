//! The command line: what each `lab` command takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::service::{Mode, Service};
use crate::target::TargetKind;

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
    /// Print the consumer's URL (what the experiment's http probe calls)
    Address {
        /// Also write it into this experiment's `consumer-service-must-still-respond`
        /// probe, changing nothing else in the file
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Stop everything and remove the state (safe to run twice)
    Down {
        /// kind: delete the kind cluster too (kept by default: creating one is slow)
        #[arg(long)]
        delete_cluster: bool,
    },
    /// The whole story, narrated: the failure, the fix, the passing re-run
    Demo(DemoArgs),
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
    /// `cluster` target: pull the images from this registry (REG/provider-app:dev,
    /// REG/consumer-app:dev) instead of cascade-lab/*:dev
    #[arg(long, value_name = "REG")]
    pub image_registry: Option<String>,
    /// Kubernetes targets: the experiment whose consumer URL is rewritten [default:
    /// experiment.json of the repository]
    #[arg(long, value_name = "FILE")]
    pub experiment: Option<PathBuf>,
    #[command(flatten)]
    pub ready: ReadyArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seconds the experiment waits after killing the provider (the tutorial's 15 s)
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
    fn demo_defaults_to_the_tutorial_pause() {
        let cli = Cli::try_parse_from(["lab", "demo"]).unwrap();
        let Command::Demo(args) = cli.command else {
            panic!("not demo")
        };
        assert_eq!(args.pause, 15);
        assert_eq!((args.provider_port, args.consumer_port), (8080, 8081));
    }
}
