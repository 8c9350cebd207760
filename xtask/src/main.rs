//! The project's own tasks, in Rust (`cargo xtask ...`, an alias in .cargo/config.toml),
//! as rust-analyzer keeps its own. `cargo xtask test` is what `make test` runs: every
//! tier of [`Tier::ALL`] (the one list of tiers, this crate's library), each set up
//! first, then run,
//! ending with one line per tier: ran (N passed), FAILED, or skipped (reason). Shell stays
//! where it drives go, docker or apt: the `scripts/setup-*.sh`, `k8s-*.sh` and
//! `kind-test.sh` scripts, which this runner calls.

mod env;
mod run;
mod setup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::Tier;

use crate::env::Env;
use crate::run::Summary;

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
    /// tier fails the run. Exit status: 0 when every tier that ran passed (and none was
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
    let mut setup = setup::Setup::new(env);
    let ready = setup.prepare(selected, &summary);
    for tier in selected {
        if run::interrupted() {
            break;
        }
        match ready.reason(*tier) {
            Some(reason) => summary.skipped(*tier, reason),
            None => {
                summary.say(&ready.headline(*tier));
                let outcome = run::tier(setup.env(), &ready.commands(*tier));
                summary.record(*tier, outcome);
            }
        }
        if *tier == Tier::Kubernetes {
            setup.stop_control_plane();
        }
    }
    setup.stop_control_plane();
    summary.finish(run::interrupted())
}
