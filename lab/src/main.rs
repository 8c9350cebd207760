//! `lab`: brings the Cascade Lab up and down, breaks and fixes the consumer, and tells the
//! cascading-failure story end to end (`lab demo`).
//!
//! Map: `cli` (arguments, converted into the targets' plain option types) -> `targets`
//! (one module per place the lab runs: `local`, the supervised processes, and
//! `kubernetes`, the kind/minikube/cluster targets) built on `state` (what runs, on disk;
//! changed only through the lock's guard), `target_kind` (a leaf both share), `process` (pids that survive reuse, detached spawning),
//! `health` (readiness), `binaries` (finding/building the services) and `interrupt`
//! (Ctrl-C). `experiment_file` rewrites the consumer probe's URL in place
//! (`lab address --write`). `demo` drives the story through a `Target` and an
//! experiment runner. `traffic` sends users' requests and records what they got (`lab
//! traffic`, the impact endpoint, the demo's users' view).

mod binaries;
mod challenge;
mod cli;
mod cluster_run;
mod consumer_settings;
mod dashboard;
mod demo;
mod experiment_file;
mod fault_proxy;
mod fault_token;
mod health;
mod http_server;
mod interrupt;
mod node_command;
mod process;
mod service;
mod state;
mod status;
mod target_kind;
mod targets;
mod traffic;
mod ui;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::service::Mode;
use crate::state::StateDir;
use crate::targets::{DownOptions, TargetKind, UpOptions};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAB_LOG")
                // kube-rs logs each failed request at error level; lab reports the
                // failure itself, with what it was doing. actix-http logs each malformed
                // request to the lab's pages at error level; the client gets its 4xx.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,kube_client=off,actix_http=off")
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(console::Term::stderr().is_term())
        .init();
    let cli = Cli::parse();
    // What this command starts; the demo keeps its services, other commands hand them
    // over to run in the background once they are up.
    let started = interrupt::Started::new(match cli.command {
        Command::Demo(_)
        | Command::Scenario(demo::catalogue::ScenarioArgs {
            command: demo::catalogue::ScenarioCommand::Run { .. },
        })
        | Command::Challenge(challenge::ChallengeArgs {
            command: challenge::ChallengeCommand::Check { .. },
        }) => interrupt::Ownership::Keep,
        _ => interrupt::Ownership::HandOver,
    });
    if let Err(err) = interrupt::install(started.clone()) {
        ui::warn(format!("{err:#}"));
    }
    match run(cli, started) {
        Ok(code) => code,
        Err(err) if err.chain().any(|e| e.is::<interrupt::Interrupted>()) => {
            eprintln!("lab: interrupted");
            ExitCode::from(interrupt::EXIT_CODE as u8)
        }
        Err(err) => {
            let prefix = console::Style::new()
                .red()
                .bold()
                .for_stderr()
                .apply_to("error:");
            eprintln!("{prefix} {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The target a command acts on: the flag, else the one the running lab uses, else local.
fn target_kind(flag: Option<TargetKind>, states: &StateDir) -> Result<TargetKind> {
    if let Some(kind) = flag {
        return Ok(kind);
    }
    match states.load() {
        // Unreadable state: the target that will say so (and whose `down` recovers).
        Err(err) if StateDir::is_corrupt(&err) => Ok(TargetKind::Local),
        loaded => Ok(loaded?
            .map(|state| state.target)
            .unwrap_or(TargetKind::Local)),
    }
}

fn run(cli: Cli, started: interrupt::Started) -> Result<ExitCode> {
    let states = StateDir::from_env()?;
    let kind = target_kind(cli.target, &states)?;
    let mut target = targets::open(kind, states.clone(), cli.namespace.clone(), started.clone())?;
    match cli.command {
        Command::Up(args) => {
            let url = target.up(&UpOptions {
                mode: args.mode,
                provider_port: args.provider_port,
                consumer_port: args.consumer_port,
                fault_proxy: if args.fault_proxy {
                    Some(true)
                } else if args.no_fault_proxy {
                    Some(false)
                } else {
                    None
                },
                fault_proxy_port: args.fault_proxy_port,
                fault_proxy_link_port: args.fault_proxy_link_port,
                ready_timeout: args.ready.timeout_for(kind),
                // Absolute, so a later `lab up` from another folder rewrites the same file.
                experiment: args
                    .experiment
                    .map(std::path::absolute)
                    .transpose()
                    .context("cannot resolve --experiment")?,
                image_registry: args.image_registry,
                images: args.images.into(),
            })?;
            ui::info("the lab is up; the consumer answers at:");
            println!("{url}");
        }
        Command::Status { check } => return status::show(target.as_ref(), &states, check),
        Command::Kill { name } => target.kill(name)?,
        Command::Fix(args) => target.switch_mode(Mode::After, args.timeout_for(kind))?,
        Command::Break(args) => target.switch_mode(Mode::Before, args.timeout_for(kind))?,
        Command::Logs { name, follow } => target.logs(name, follow)?,
        Command::Address {
            fault_proxy: true, ..
        } => println!("{}", target.fault_proxy_url()?),
        Command::Address { write, .. } => {
            let url = target.consumer_url()?;
            if let Some(path) = write {
                experiment_file::write_consumer_url(&path, &url)?;
                ui::info(format!("wrote {url} into {}", path.display()));
            }
            println!("{url}");
        }
        Command::FaultToken => println!("{}", target.fault_token()?),
        Command::Down { delete_cluster } => target.down(&DownOptions { delete_cluster })?,
        Command::Demo(args) => {
            if kind != TargetKind::Local {
                anyhow::bail!(
                    "`lab demo` runs on the local target only; on `{kind}` use `lab up`, \
                     then run experiment.json with chaos-runner"
                );
            }
            return demo::run(target.as_mut(), &started, &states, &args);
        }
        Command::Scenario(args) => {
            let demo::catalogue::ScenarioCommand::Run { name, demo: flags } = &args.command else {
                return demo::catalogue::print(&args.command);
            };
            if kind != TargetKind::Local {
                anyhow::bail!("`lab scenario run` runs on the local target only");
            }
            let args = demo::catalogue::run_args(*name, flags)?;
            return demo::run(target.as_mut(), &started, &states, &args);
        }
        Command::Traffic(args) => return traffic::command::run(target.as_ref(), &states, &args),
        Command::Challenge(args) => {
            return challenge::run(target.as_mut(), kind, &started, &states, &args);
        }
        Command::Consumer(args) => {
            return consumer_settings::run(target.as_mut(), kind, &states, &args);
        }
        Command::ClusterRun(args) => {
            return cluster_run::run(&states, cli.namespace.clone(), &args);
        }
        Command::Node(args) => {
            if kind != TargetKind::Kind {
                anyhow::bail!(
                    "`lab node` acts on kind's node containers; this lab's target is `{kind}`"
                );
            }
            #[cfg(feature = "kubernetes")]
            targets::kubernetes::node_faults::run(&args)?;
            #[cfg(not(feature = "kubernetes"))]
            anyhow::bail!("this lab was built without the Kubernetes targets ({args:?})");
        }
        Command::Dashboard(args) => {
            return dashboard::command::run(
                target.as_ref(),
                kind,
                &states,
                cli.namespace.clone(),
                &started,
                &args,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
