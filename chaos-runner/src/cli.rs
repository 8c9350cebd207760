//! The `chaos-runner` command line: `run`, `validate`, `discover`, `report`.

use crate::activity::Dry;
use crate::bridge::PythonBridge;
use crate::config::{Vars, load_vars};
use crate::drivers::Registry;
use crate::engine::{RunHandle, RunOptions, run_experiment};
use crate::experiment::Experiment;
use crate::log::{LogFormat, LogOptions, SecretMask};
use crate::report::{Format, RunReports, check_distinct, check_writable};
use crate::runtime::AsyncRuntime;
use crate::strategy::RollbackStrategy;
use crate::strategy::Strategy;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(
    name = "chaos-runner",
    version,
    about = "Run Chaos Toolkit experiments: same format, same journal, one static binary"
)]
pub struct Cli {
    /// Display debug level traces.
    #[arg(long, global = true)]
    verbose: bool,
    /// File path where to write the command's log (debug level). Unlike `chaos`, no
    /// log file is written unless this is given.
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// Console logging format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::String)]
    log_format: LogFormat,
    /// Change directory before running the experiment.
    #[arg(long, global = true, value_name = "DIR")]
    change_dir: Option<PathBuf>,
    /// Accepted for compatibility with `chaos`; chaos-runner never checks for updates.
    #[arg(long, global = true, hide = true)]
    no_version_check: bool,
    /// The Python interpreter for `python` activities whose module has no native driver
    /// [env: CHAOS_RUNNER_PYTHON] [default: the interpreter of the `chaos` on PATH, an
    /// active virtualenv's, python3]
    #[arg(long, global = true, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Run MODULE (or a package and its modules, e.g. chaosk8s) through the Python bridge
    /// even where a native driver has it. Repeatable.
    #[arg(long = "python-bridge-for", global = true, value_name = "MODULE")]
    python_bridge_for: Vec<String>,
    /// The Chaos Toolkit settings file whose `controls` apply to every experiment
    /// [default: ~/.chaostoolkit/settings.yaml, if it exists]
    #[arg(long, global = true, value_name = "PATH")]
    settings: Option<PathBuf>,
    /// Run the experiment without the controls that cannot be run (a module that does
    /// not import), with a warning; by default such a control stops the experiment
    /// before anything runs, as it could not guard it.
    #[arg(long, global = true)]
    skip_unrunnable_controls: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the experiment loaded from SOURCE, a local file or an http(s) URL (JSON or YAML).
    Run(RunArgs),
    /// Validate the experiment at SOURCE and report every problem found.
    Validate {
        source: String,
        /// Do not verify TLS certificates when fetching SOURCE.
        #[arg(long)]
        no_verify_tls: bool,
    },
    /// List the built-in drivers and their activities as JSON.
    Discover,
    /// Make one self-contained report (HTML or Markdown) of one or more journals, side
    /// by side; it opens with no network.
    Report {
        /// Journals written by chaos-runner or by the Python chaos.
        #[arg(required = true, value_name = "JOURNAL")]
        journals: Vec<PathBuf>,
        /// Where to write it (`-`: stdout). Default: report.html for HTML, stdout for
        /// Markdown.
        #[arg(short = 'o', long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Default: markdown when PATH ends in .md, else html.
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// The users' traffic during the run(s): a series file the lab writes (JSON
        /// lines: `lab traffic --jsonl`, the dashboard's and the demo's users); the HTML
        /// report then shows what the users got. Repeat it for several runs (each journal
        /// shows the requests of its own time)
        #[arg(long, value_name = "FILE")]
        traffic: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Path where to save the journal from the execution.
    #[arg(long, default_value = "./journal.json", value_name = "PATH")]
    journal_path: PathBuf,
    /// Also write the run as JUnit XML (a test case per probe per phase, per action,
    /// per rollback), after the journal, also when the run fails or is interrupted.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Also append a Markdown summary (status, deviated, each probe against its
    /// tolerance) to PATH, e.g. "$GITHUB_STEP_SUMMARY".
    #[arg(long, value_name = "PATH")]
    summary: Option<PathBuf>,
    /// Run the experiment without executing the chosen kind of activity (or pauses).
    #[arg(long, value_enum)]
    dry: Option<Dry>,
    /// Do not validate the experiment before running.
    #[arg(long)]
    no_validation: bool,
    /// Do not verify TLS certificates when fetching SOURCE.
    #[arg(long)]
    no_verify_tls: bool,
    /// When to play rollbacks. Default: not on interruption or a failed hypothesis.
    #[arg(long, value_enum)]
    rollback_strategy: Option<RollbackStrategy>,
    /// Configuration value: NAME=VALUE or NAME:TYPE=VALUE (int, float, bytes, ...). Repeatable.
    #[arg(long = "var", value_name = "NAME[:TYPE]=VALUE")]
    vars: Vec<String>,
    /// JSON/YAML file with `configuration` and `secrets` keys, or a .env file. Repeatable.
    #[arg(long = "var-file", value_name = "PATH")]
    var_files: Vec<PathBuf>,
    /// When to run the steady-state hypothesis.
    #[arg(long, value_enum)]
    hypothesis_strategy: Option<Strategy>,
    /// Seconds between two runs of the hypothesis (during-method-only, continuously).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    hypothesis_frequency: f64,
    /// Fail the experiment as soon as the continuous hypothesis deviates.
    #[arg(long)]
    fail_fast: bool,
    /// The experiment: a path or an http(s) URL.
    source: String,
}

/// Entry point: parses arguments, runs the command, returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let options = LogOptions {
        verbose: cli.verbose,
        format: cli.log_format,
        file: cli.log_file.clone(),
    };
    let secret_mask = match crate::log::init(&options) {
        Ok(mask) => mask,
        Err(e) => {
            eprintln!("chaos-runner: {e}");
            return 1;
        }
    };
    match execute(cli, secret_mask) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{:#}", e);
            1
        }
    }
}

fn execute(cli: Cli, secret_mask: SecretMask) -> Result<i32> {
    if let Some(dir) = &cli.change_dir {
        tracing::warn!("Moving to {}", dir.display());
        std::env::set_current_dir(dir)
            .with_context(|| format!("--change-dir {}", dir.display()))?;
    }
    let registry = cli
        .python_bridge_for
        .iter()
        .fold(
            Registry::builtin().with_bridge(PythonBridge::new(cli.python.clone())),
            |r, module| r.bridge_modules(module),
        )
        .skip_unrunnable_controls(cli.skip_unrunnable_controls);
    let settings = crate::settings::load(cli.settings.as_deref()).map_err(anyhow::Error::msg)?;
    match cli.command {
        Command::Discover => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Registry::builtin().discovery())?
            );
            Ok(0)
        }
        Command::Validate {
            source,
            no_verify_tls,
        } => {
            let runtime = AsyncRuntime::new();
            let experiment = crate::experiment::load(&source, !no_verify_tls, &runtime)?;
            let experiment = Experiment::from_value(experiment);
            if validate_and_report(&experiment, &Vars::default(), &registry) {
                tracing::info!("experiment syntax and semantic look valid");
                Ok(0)
            } else {
                Ok(1)
            }
        }
        Command::Run(args) => run_command(args, secret_mask, registry, settings),
        Command::Report {
            journals,
            output,
            format,
            traffic,
        } => {
            if let Some(path) =
                crate::report::report(&journals, output.as_deref(), format, &traffic)?
            {
                tracing::info!("Report written to {}", path.display());
            }
            Ok(0)
        }
    }
}

/// Logs every problem; true when the experiment is valid.
fn validate_and_report(experiment: &Experiment, vars: &Vars, registry: &Registry) -> bool {
    tracing::info!("Validating the experiment's syntax");
    let report = crate::validate::validate(experiment, registry, vars);
    for w in &report.warnings {
        tracing::warn!("{}", w);
    }
    for p in &report.problems {
        tracing::error!("{}", p);
    }
    if report.is_valid() {
        tracing::info!("Experiment looks valid");
        true
    } else {
        tracing::error!(
            "Experiment is invalid: {} problem{} found",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        );
        false
    }
}

fn run_command(
    args: RunArgs,
    secret_mask: SecretMask,
    registry: Registry,
    settings: crate::settings::Settings,
) -> Result<i32> {
    if let Err(why) = crate::duration::check(args.hypothesis_frequency) {
        bail!("--hypothesis-frequency {why}");
    }
    // Every output is checked before anything runs (it would otherwise be found
    // only after the whole run).
    let reports = RunReports {
        junit: args.junit.clone(),
        summary: args.summary.clone(),
    };
    let mut outputs = vec![("--journal-path", args.journal_path.as_path())];
    outputs.extend(args.junit.as_deref().map(|p| ("--junit", p)));
    outputs.extend(args.summary.as_deref().map(|p| ("--summary", p)));
    for (flag, path) in &outputs {
        check_writable(flag, path)?;
    }
    // No output may replace another, nor the experiment it comes from.
    let source = Path::new(&args.source);
    let mut files = outputs.clone();
    if source.exists() {
        files.push(("the experiment", source));
    }
    check_distinct(&files)?;
    let vars = load_vars(&args.vars, &args.var_files)?;
    let run = RunHandle::new(Some(args.journal_path.clone()), secret_mask);
    let experiment = crate::experiment::load(&args.source, !args.no_verify_tls, run.runtime())?;
    let experiment = Experiment::from_value(experiment);
    if !args.no_validation && !validate_and_report(&experiment, &vars, &registry) {
        return Ok(1);
    }
    let options = RunOptions {
        strategy: args.hypothesis_strategy,
        rollback_strategy: args.rollback_strategy,
        dry: args.dry,
        hypothesis_frequency: args.hypothesis_frequency,
        fail_fast: args.fail_fast,
        vars,
        registry,
        settings,
    };

    // First Ctrl-C/SIGTERM: cancel gracefully. Second: write what we have and leave.
    {
        let (run, reports) = (run.clone(), reports.clone());
        crate::interrupt::install(run.cancel().clone(), move || {
            tracing::warn!("Second termination signal: exiting now");
            if let Some(journal) = run.journal().flush_interrupted()
                && let Err(e) = reports.write(&journal)
            {
                tracing::error!("{:#}", e);
            }
            std::process::exit(1);
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    let outcome = run_experiment(experiment, &options, &run)?;
    let mut code = outcome.exit_code();
    // A journal that cannot be written leaves the previous one in place, and does not
    // keep the run's other outputs from being written.
    if let Err(e) = outcome.journal.write(&args.journal_path) {
        tracing::error!(
            "cannot write the journal to {}: {e}",
            args.journal_path.display()
        );
        code = 1;
    }
    if let Err(e) = reports.write(&outcome.journal) {
        tracing::error!("{:#}", e);
        code = 1;
    }
    if let Some(probe) = &outcome.before_not_met {
        tracing::error!(
            "Exit status 1: the steady-state hypothesis was not met before the method (probe '{}'), so the method did not run (chaos run would exit 0 here)",
            probe
        );
    }
    Ok(code)
}
