//! `lab scenario list|show|run`: the stories the lab can tell, each an experiment, the
//! users, narration and before/after verdicts (`run` is `lab demo --scenario NAME`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use super::scenario::{Expect, Scenario, Setup, Story};
use crate::cli::DemoArgs;
use crate::consumer_settings::ConsumerSettings;

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    pub command: ScenarioCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Every scenario, one line each
    List,
    /// What a scenario does: its experiment, the consumer of each run, what to watch
    Show {
        #[arg(value_enum)]
        name: Scenario,
    },
    /// Tell a scenario (what `lab demo --scenario NAME` does); any `lab demo` flag may
    /// follow, e.g. `lab scenario run kill --pause 5`
    Run {
        #[arg(value_enum)]
        name: Scenario,
        /// `lab demo`'s flags (--pause, --provider-port, --consumer-port, --runner,
        /// --dashboard...)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "DEMO FLAGS"
        )]
        demo: Vec<String>,
    },
}

/// `lab demo`'s flags, read on their own.
#[derive(Debug, Parser)]
#[command(name = "lab scenario run NAME")]
struct DemoFlags {
    #[command(flatten)]
    demo: DemoArgs,
}

/// `lab demo`'s arguments for `lab scenario run NAME FLAGS...`.
pub fn demo_args(name: Scenario, flags: &[String]) -> Result<DemoArgs, clap::Error> {
    let mut argv = vec![
        "lab scenario run".to_string(),
        "--scenario".into(),
        name.name().into(),
    ];
    argv.extend(flags.iter().cloned());
    DemoFlags::try_parse_from(argv).map(|flags| flags.demo)
}

/// `list` and `show` (`run` is the demo's, dispatched by the caller).
pub fn print(command: &ScenarioCommand) -> Result<ExitCode> {
    match command {
        ScenarioCommand::List => print!("{}", list()),
        ScenarioCommand::Show { name } => print!("{}", show(*name)),
        ScenarioCommand::Run { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn list() -> String {
    let mut builder = tabled::builder::Builder::new();
    builder.push_record(["scenario", "what it shows"]);
    for scenario in Scenario::ALL {
        builder.push_record([scenario.name(), scenario.story().summary]);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::rounded()).with(
        tabled::settings::Modify::new(tabled::settings::object::Columns::last())
            .with(tabled::settings::Width::wrap(72).keep_words(true)),
    );
    format!(
        "{table}\nRun one with `lab scenario run NAME` (or `lab demo --scenario NAME`); \
         `lab scenario show NAME` tells what it does.\n"
    )
}

fn setup(setup: &Setup) -> String {
    let settings = ConsumerSettings::of(setup.settings);
    let how = if setup.settings.is_empty() {
        format!("lab up --mode {}", setup.mode)
    } else {
        format!("{} && lab up --mode {}", settings.set_command(), setup.mode)
    };
    format!("{}\n    ({how})", setup.label)
}

fn expect(expect: Expect) -> &'static str {
    match expect {
        Expect::Deviates => "deviates (the hypothesis no longer holds: exit 1)",
        Expect::Holds => "holds (exit 0)",
    }
}

fn show(scenario: Scenario) -> String {
    let story: &Story = scenario.story();
    let mut text = format!("{}\n\n{}\n\n", story.title, story.intro);
    text.push_str(&format!(
        "Experiment: {}\n{}\n\n",
        story.source,
        story.method.replace("{pause}", &pause_text(story))
    ));
    text.push_str(&format!(
        "Before: {}\n  the experiment {}\nAfter ({}): {}\n  the experiment {}\n\n",
        setup(&story.before),
        expect(story.expect_before),
        story.fix_command,
        setup(&story.after),
        expect(story.expect_after),
    ));
    if story.fault_proxy {
        text.push_str("Needs the fault proxy (`lab up --fault-proxy`; the run starts it).\n");
    }
    text.push_str(&format!(
        "What to watch: {}\n\n{}\n\nRun it: lab scenario run {}\n",
        if story.provider_calls {
            "the provider's failed calls per user request"
        } else {
            "the users' ok / degraded / failed and their p50 / p99"
        },
        story.lesson,
        scenario.name()
    ));
    text
}

fn pause_text(story: &Story) -> String {
    super::experiment::tutorial_pause(story).map_or_else(|| "a few".into(), |p| p.to_string())
}

/// The scenario's story for `lab demo` (the caller runs it).
pub fn run_args(name: Scenario, flags: &[String]) -> Result<DemoArgs> {
    demo_args(name, flags)
        .map_err(|err| {
            // clap's own rendering, without its usage block: the flag and what was wrong.
            let rendered = err.render().to_string();
            anyhow::anyhow!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("bad flags")
                    .trim_start_matches("error: ")
            )
        })
        .context("`lab scenario run NAME` takes `lab demo`'s flags after the name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_scenario() {
        let text = list();
        for scenario in Scenario::ALL {
            assert!(text.contains(scenario.name()), "{text}");
        }
    }

    #[test]
    fn run_takes_the_demos_flags() {
        let args = demo_args(
            Scenario::RetryStorm,
            &["--consumer-port".into(), "0".into()],
        )
        .unwrap();
        assert_eq!(args.scenario, Scenario::RetryStorm);
        assert_eq!(args.consumer_port, 0);
        let err = run_args(Scenario::Kill, &["--pause".into(), "soon".into()]).unwrap_err();
        assert!(format!("{err:#}").contains("--pause"), "{err:#}");
    }

    #[test]
    fn show_tells_both_consumers_and_the_command() {
        let text = show(Scenario::RetryStorm);
        for needle in [
            "experiments/retry-storm.json",
            "lab consumer set --circuit-failures 1000000 --retries 3 --retry-budget none",
            "lab consumer set --retry-budget 10",
            "lab scenario run retry-storm",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }
}
