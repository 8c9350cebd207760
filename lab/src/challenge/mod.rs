//! `lab challenge list|start|check`: graded exercises. A challenge starts the consumer
//! from settings that miss its goals; the learner changes them with `lab consumer set`
//! (not by editing code), and `check` runs the challenge's scenarios with users against
//! that consumer and grades what the users (and the provider) got against the stated
//! goals, saying what missed and by how much. Progress is kept in the state directory.

mod catalogue;
mod grade;
mod progress;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use crate::consumer_settings::{self, ConsumerSettings};
use crate::interrupt::Started;
use crate::state::StateDir;
use crate::targets::{Target, TargetKind};
use crate::ui;
pub use catalogue::Challenge;

#[derive(Debug, Args)]
pub struct ChallengeArgs {
    #[command(subcommand)]
    pub command: ChallengeCommand,
}

#[derive(Debug, Subcommand)]
pub enum ChallengeCommand {
    /// Every challenge, its goal, and whether you passed it
    List,
    /// Start a challenge: its goal, and the consumer settings it starts from
    Start {
        #[arg(value_enum)]
        name: Challenge,
        #[command(flatten)]
        ready: crate::cli::ReadyArgs,
    },
    /// Run the challenge's scenarios against your consumer settings and grade them
    /// (exit 0 when every goal is met, 1 otherwise). Local: on a lab of its own (none
    /// may run); kind, minikube, cluster: on the running lab, resilience on
    Check {
        /// The challenge [default: the one started last]
        #[arg(value_enum)]
        name: Option<Challenge>,
    },
}

/// Runs `lab challenge ...`.
pub fn run(
    target: &mut dyn Target,
    kind: TargetKind,
    started: &Started,
    states: &StateDir,
    args: &ChallengeArgs,
) -> Result<ExitCode> {
    match &args.command {
        ChallengeCommand::List => {
            let progress = progress::load(states)?;
            print!("{}", catalogue::table(&progress));
            Ok(ExitCode::SUCCESS)
        }
        ChallengeCommand::Start { name, ready } => {
            let spec = name.spec();
            println!("{}", ui::heading(format!("Challenge: {}", spec.title)));
            for line in spec.brief.lines() {
                println!("  {line}");
            }
            println!("\n  Goals:");
            for part in spec.parts {
                println!("  {}", part.scenario_line());
                for goal in part.goals {
                    println!("    - {}", goal.describe());
                }
            }
            let settings = ConsumerSettings::of(spec.start);
            consumer_settings::apply(target, kind, states, &settings, ready.timeout_for(kind))?;
            let mut progress = progress::load(states)?;
            progress.current = Some(name.to_possible_value_name());
            progress::save(states, &progress)?;
            println!(
                "\n  Change the consumer with `lab consumer set ...` (`lab consumer show` lists the\n  \
                 settings), then grade it with `lab challenge check`."
            );
            println!("  Hint: {}", spec.hint);
            Ok(ExitCode::SUCCESS)
        }
        ChallengeCommand::Check { name } => {
            let mut progress = progress::load(states)?;
            let challenge = match name {
                Some(name) => *name,
                None => progress
                    .current
                    .as_deref()
                    .and_then(|name| Challenge::from_str(name, false).ok())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no challenge started; `lab challenge list` shows them, `lab challenge start NAME` starts one"
                        )
                    })?,
            };
            let spec = challenge.spec();
            let settings = consumer_settings::load(states)?;
            println!(
                "{}",
                ui::heading(format!("Checking the challenge: {}", spec.title))
            );
            println!("  Your consumer: {}", settings.describe());
            let mut misses = Vec::new();
            let mut report = Vec::new();
            for (index, part) in spec.parts.iter().enumerate() {
                println!("\n  {}", part.scenario_line());
                let label = format!("check-{}", index + 1);
                let facts =
                    crate::demo::attempt(target, kind, started, states, part.scenario, &label)?;
                for goal in part.goals {
                    let graded = goal.grade(&facts);
                    report.push(format!(
                        "{} {}: {}",
                        if graded.met { "✓" } else { "✗" },
                        part.scenario.name(),
                        graded.text
                    ));
                    if !graded.met {
                        misses.push(graded.text);
                    }
                }
            }
            println!("\n{}", ui::heading("Grade"));
            for line in &report {
                println!("  {line}");
            }
            let passed = misses.is_empty();
            progress.record(&challenge.to_possible_value_name(), passed);
            progress::save(states, &progress)?;
            if passed {
                println!(
                    "  {}",
                    ui::good(format!(
                        "Passed: every goal of `{}` is met with {}.",
                        challenge.to_possible_value_name(),
                        settings.describe()
                    ))
                );
                println!("  {}", spec.debrief);
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "  {}",
                    ui::bad(format!("Not yet: {} of the goals missed.", misses.len()))
                );
                println!("  Hint: {}", spec.hint);
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

trait ValueName {
    fn to_possible_value_name(&self) -> String;
}

impl<T: ValueEnum> ValueName for T {
    fn to_possible_value_name(&self) -> String {
        self.to_possible_value()
            .map(|value| value.get_name().to_string())
            .unwrap_or_default()
    }
}
