//! The project's own tasks, in Rust (`cargo xtask ...`, an alias in .cargo/config.toml),
//! as rust-analyzer keeps its own. `cargo xtask test` is what `make test` runs: every
//! tier of [`Tier::ALL`] (the one list of tiers, this crate's library), each set up
//! first, then run,
//! ending with one line per tier: ran (N passed), FAILED, or skipped (reason). The tiers
//! on Docker (kind, minikube: mostly waiting on clusters) run in a lane of their own,
//! alongside the others; their output is shown after the others' (`output.rs`). Shell stays
//! where it drives go, docker or apt: the `scripts/setup-*.sh`, `k8s-*.sh` and
//! `kind-test.sh` scripts, which this runner calls.

mod env;
mod output;
mod run;
mod setup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::Tier;

use crate::env::Env;
use crate::output::Output;
use crate::run::{Outcome, Summary};
use crate::setup::{Ready, Setup};

/// Set to 1, every tier runs in one lane, one after the other (output in order, and no
/// tier's load on another's timings).
const ONE_LANE: &str = "CASCADE_TIERS_ONE_LANE";

/// The niceness of the Docker lane's commands (and of the Python, kubectl and test
/// processes they start) while the other lane runs: the local tier's tests measure
/// milliseconds, the cluster tests seconds, so on a busy machine the first go first.
/// (The clusters' own processes run in Docker's cgroup, which shares the CPU as one.)
const DOCKER_LANE_NICENESS: &str = "10";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Cascade Lab's own tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Sets up and runs the test tiers (`make test`), ending with one line per tier.
    ///
    /// A tier is skipped only when this machine cannot run it, or when
    /// CASCADE_SKIP_<TIER>=1 asks so; with CASCADE_REQUIRE_ALL_TIERS=1 (CI) a skipped
    /// tier fails the run. The kind and minikube tiers run alongside the others (their
    /// output held until the others are done, and copied as it comes to
    /// $CARGO_TARGET_DIR/test-artifacts/docker-tiers.log); CASCADE_TIERS_ONE_LANE=1 runs
    /// every tier one after the other. Exit status: 0 when every tier that ran passed (and none was
    /// skipped under CASCADE_REQUIRE_ALL_TIERS=1), 1 otherwise, 130 when interrupted.
    Test {
        /// Only these tiers (repeat the flag for more), in their usual order.
        #[arg(long = "tier", value_name = "TIER", value_parser = parse_tier)]
        tiers: Vec<Tier>,
    },
    /// Lists the tiers: name, the tag in their tests' names, the variable that skips them.
    Tiers,
}

fn parse_tier(name: &str) -> Result<Tier, String> {
    Tier::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
        format!("is not a tier (one of: {})", names.join(", "))
    })
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::Tiers => {
            for tier in Tier::ALL {
                println!(
                    "{:<13} {:<16} {}",
                    tier.name(),
                    tier.tag().unwrap_or("(not ignored)"),
                    tier.skip_variable().unwrap_or("(always runs)")
                );
            }
            ExitCode::SUCCESS
        }
        Task::Test { tiers } => {
            let selected: Vec<Tier> = Tier::ALL
                .into_iter()
                .filter(|tier| tiers.is_empty() || tiers.contains(tier))
                .collect();
            test(&selected)
        }
    }
}

/// Sets up what the `selected` tiers need, runs each, prints the summary.
fn test(selected: &[Tier]) -> ExitCode {
    let env = match Env::new() {
        Ok(env) => env,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut summary = Summary::new(env.require_all());
    run::install_interrupt_handler();
    let one_lane = env.is_on(ONE_LANE);
    let mut setup = Setup::new(env);
    let ready = setup.prepare(selected, &summary);
    let (docker, host): (Vec<Tier>, Vec<Tier>) = if one_lane {
        (Vec::new(), selected.to_vec())
    } else {
        selected.iter().partition(|tier| tier.on_docker())
    };
    let lanes = Lanes {
        setup: &setup,
        ready: &ready,
        summary: &summary,
    };
    let log = docker_log(setup.env());
    let docker_output = (!docker.is_empty() && !host.is_empty()).then(|| Output::held(&log));
    let mut results = std::thread::scope(|scope| {
        let docker_lane = docker_output.as_ref().map(|output| {
            println!(
                "{}",
                summary.headline(&format!(
                    "{} running alongside the others; their output follows the others' (as it comes: {})",
                    names(&docker),
                    log.display()
                ))
            );
            let docker = &docker;
            scope.spawn(move || lanes.run(docker, output, Some(DOCKER_LANE_NICENESS)))
        });
        let mut results = lanes.run(&host, &Output::live(), None);
        match (docker_lane, &docker_output) {
            (Some(lane), Some(output)) => {
                output.show();
                // A lane that panicked ran its tiers no further: they failed.
                results.extend(lane.join().unwrap_or_else(|_| {
                    let failed = || Ok(Outcome::Failed { passed: 0 });
                    docker.iter().map(|tier| (*tier, failed())).collect()
                }));
            }
            _ => results.extend(lanes.run(&docker, &Output::live(), None)),
        }
        results
    });
    setup.stop_control_plane();
    for tier in selected {
        match results.iter().position(|(t, _)| t == tier) {
            Some(at) => match results.remove(at).1 {
                Ok(outcome) => summary.record(*tier, outcome),
                Err(reason) => summary.skipped(*tier, &reason),
            },
            None => continue, // interrupted before it ran
        }
    }
    summary.finish(run::interrupted())
}

/// Where the tiers of the Docker lane write as they go.
fn docker_log(env: &Env) -> std::path::PathBuf {
    let target = env.var("CARGO_TARGET_DIR").unwrap_or_default();
    std::path::Path::new(&target).join("test-artifacts/docker-tiers.log")
}

/// "kind tier", "kind and minikube tiers".
fn names(tiers: &[Tier]) -> String {
    let names: Vec<&str> = tiers.iter().map(|t| t.name()).collect();
    let noun = if names.len() == 1 { "tier" } else { "tiers" };
    format!("{} {noun}", names.join(" and "))
}

/// What the lanes share: the set-up (its environment), what it found, the clock.
#[derive(Clone, Copy)]
struct Lanes<'a> {
    setup: &'a Setup,
    ready: &'a Ready,
    summary: &'a Summary,
}

impl Lanes<'_> {
    /// Runs `tiers` one after the other, writing to `output` (their commands under `nice`
    /// when a niceness is given): each tier's outcome, or why it was skipped. Stops early
    /// when interrupted.
    fn run(
        &self,
        tiers: &[Tier],
        output: &Output,
        niceness: Option<&str>,
    ) -> Vec<(Tier, Result<Outcome, String>)> {
        let mut results = Vec::new();
        for tier in tiers {
            if run::interrupted() {
                break;
            }
            let result = match self.ready.reason(*tier) {
                Some(reason) => {
                    output.line(&run::skip_line(*tier, reason));
                    Err(reason.to_string())
                }
                None => {
                    output.line(&self.summary.headline(&self.ready.headline(*tier)));
                    let mut commands = self.ready.commands(*tier);
                    if let Some(n) = niceness {
                        for command in &mut commands {
                            command.splice(0..0, ["nice".to_string(), "-n".into(), n.into()]);
                        }
                    }
                    Ok(run::tier(self.setup.env(), &commands, output))
                }
            };
            results.push((*tier, result));
            if *tier == Tier::Kubernetes {
                self.setup.stop_control_plane();
            }
        }
        results
    }
}
