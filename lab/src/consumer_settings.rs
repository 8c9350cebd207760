//! The consumer's resilience settings chosen through `lab` (`lab consumer set`), not by
//! editing code: timeouts, the breaker, the bulkhead, retries. Kept in
//! `<state dir>/consumer-settings.json` (written atomically; it outlives `lab down`, like
//! the logs), and handed to every consumer the local target starts as its own flags,
//! which range-check them again. A setting left unset is the consumer's default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};

use crate::service::{Mode, Service};
use crate::state::StateDir;
use crate::targets::{Target, TargetKind};
use crate::ui;

/// One consumer setting: its `lab consumer set` flag, the consumer's flag, its unit.
struct Knob {
    lab_flag: &'static str,
    consumer_flag: &'static str,
    /// The environment variable the consumer reads the flag from (its Deployment's, on
    /// Kubernetes).
    env: &'static str,
    unit: Unit,
    default: &'static str,
    what: &'static str,
}

#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Count,
    Percent,
}

const KNOBS: [Knob; 10] = [
    Knob {
        lab_flag: "--call-timeout",
        consumer_flag: "--call-timeout-ms",
        env: "CALL_TIMEOUT_MS",
        unit: Unit::Millis,
        default: "800 ms",
        what: "a whole provider call gives up after this long",
    },
    Knob {
        lab_flag: "--connect-timeout",
        consumer_flag: "--connect-timeout-ms",
        env: "CONNECT_TIMEOUT_MS",
        unit: Unit::Millis,
        default: "250 ms",
        what: "connecting to the provider gives up after this long",
    },
    Knob {
        lab_flag: "--circuit-failures",
        consumer_flag: "--circuit-failure-threshold",
        env: "CIRCUIT_FAILURE_THRESHOLD",
        unit: Unit::Count,
        default: "5",
        what: "failed requests in a row that open the circuit",
    },
    Knob {
        lab_flag: "--circuit-open",
        consumer_flag: "--circuit-open-ms",
        env: "CIRCUIT_OPEN_MS",
        unit: Unit::Millis,
        default: "5000 ms",
        what: "how long an open circuit answers with the fallback",
    },
    Knob {
        lab_flag: "--max-concurrent-calls",
        consumer_flag: "--max-concurrent-calls",
        env: "MAX_CONCURRENT_CALLS",
        unit: Unit::Count,
        default: "256",
        what: "provider calls in flight at once (bulkhead)",
    },
    Knob {
        lab_flag: "--retries",
        consumer_flag: "--retries",
        env: "RETRIES",
        unit: Unit::Count,
        default: "0",
        what: "retries of a failed provider call",
    },
    Knob {
        lab_flag: "--retry-backoff",
        consumer_flag: "--retry-backoff-ms",
        env: "RETRY_BACKOFF_MS",
        unit: Unit::Millis,
        default: "50 ms",
        what: "backoff before the first retry (doubling, full jitter)",
    },
    Knob {
        lab_flag: "--retry-backoff-max",
        consumer_flag: "--retry-backoff-max-ms",
        env: "RETRY_BACKOFF_MAX_MS",
        unit: Unit::Millis,
        default: "1000 ms",
        what: "the longest backoff",
    },
    Knob {
        lab_flag: "--retry-budget",
        consumer_flag: "--retry-budget",
        env: "RETRY_BUDGET",
        unit: Unit::Percent,
        default: "10 %",
        what: "retries at most this share of the last second's requests (`none`: no budget)",
    },
    Knob {
        lab_flag: "--retry-budget-floor",
        consumer_flag: "--retry-budget-floor",
        env: "RETRY_BUDGET_FLOOR",
        unit: Unit::Count,
        default: "3",
        what: "retries a second the budget allows anyway",
    },
];

/// The settings, as stored: the consumer flag's value for each one set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSettings {
    /// Consumer flag -> value (milliseconds, counts, percent or `none`), in `KNOBS` order.
    #[serde(default)]
    pub flags: std::collections::BTreeMap<String, String>,
}

impl ConsumerSettings {
    /// Settings from `(consumer flag, value)` pairs (the scenarios' own).
    pub fn of(pairs: &[(&str, &str)]) -> ConsumerSettings {
        ConsumerSettings {
            flags: pairs
                .iter()
                .map(|(flag, value)| (flag.to_string(), value.to_string()))
                .collect(),
        }
    }

    /// The consumer's command-line flags for these settings, in a stable order.
    pub fn args(&self) -> Vec<String> {
        KNOBS
            .iter()
            .filter_map(|knob| {
                let value = self.flags.get(knob.consumer_flag)?;
                Some([knob.consumer_flag.to_string(), value.clone()])
            })
            .flatten()
            .collect()
    }

    /// One line: `call timeout 1200 ms, retries 3` or `the consumer's defaults`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = KNOBS
            .iter()
            .filter_map(|knob| {
                let value = self.flags.get(knob.consumer_flag)?;
                Some(format!("{} {}", knob.lab_flag, shown(knob.unit, value)))
            })
            .collect();
        if parts.is_empty() {
            "the consumer's defaults".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The `lab consumer set ...` command that makes these settings (from the defaults).
    pub fn set_command(&self) -> String {
        let mut command = "lab consumer set".to_string();
        for knob in &KNOBS {
            if let Some(value) = self.flags.get(knob.consumer_flag) {
                command.push_str(&format!(" {} {}", knob.lab_flag, shown(knob.unit, value)));
            }
        }
        command
    }

    /// The consumer's environment for these settings: `(variable, value)`, in a stable
    /// order (what a Kubernetes target puts in the consumer's Deployment).
    pub fn env(&self) -> Vec<(String, String)> {
        KNOBS
            .iter()
            .filter_map(|knob| {
                let value = self.flags.get(knob.consumer_flag)?;
                Some((knob.env.to_string(), value.clone()))
            })
            .collect()
    }

    /// The settings a consumer's environment carries (variables of other settings
    /// ignored).
    pub fn from_env<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> ConsumerSettings {
        let mut settings = ConsumerSettings::default();
        for (name, value) in vars {
            if let Some(knob) = KNOBS.iter().find(|knob| knob.env == name) {
                settings
                    .flags
                    .insert(knob.consumer_flag.to_string(), value.to_string());
            }
        }
        settings
    }

    /// Whether `name` is the environment variable of a setting.
    pub fn is_setting_env(name: &str) -> bool {
        KNOBS.iter().any(|knob| knob.env == name)
    }

    /// The value of a consumer flag as a number (milliseconds, count, percent), if set.
    pub fn number(&self, consumer_flag: &str) -> Option<u64> {
        self.flags.get(consumer_flag)?.parse().ok()
    }
}

fn shown(unit: Unit, value: &str) -> String {
    match unit {
        Unit::Millis => format!("{value}ms"),
        Unit::Count | Unit::Percent => value.to_string(),
    }
}

fn path(states: &StateDir) -> PathBuf {
    states.root().join("consumer-settings.json")
}

/// The stored settings (none stored: the defaults).
pub fn load(states: &StateDir) -> Result<ConsumerSettings> {
    let path = path(states);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ConsumerSettings::default());
        }
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let settings: ConsumerSettings = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a consumer settings file; `lab consumer reset` replaces it",
            path.display()
        )
    })?;
    for flag in settings.flags.keys() {
        if !KNOBS.iter().any(|knob| knob.consumer_flag == flag) {
            bail!(
                "{} names an unknown consumer setting `{flag}`; `lab consumer reset` replaces it",
                path.display()
            );
        }
    }
    Ok(settings)
}

/// Stores `settings` (atomically: the old file or the new one, never a torn one).
pub fn save(states: &StateDir, settings: &ConsumerSettings) -> Result<()> {
    states.create()?;
    let mut text = serde_json::to_vec_pretty(settings).context("cannot encode the settings")?;
    text.push(b'\n');
    atomic_file::write(&path(states), &text)?;
    Ok(())
}

/// The consumer flags for the stored settings (for the local target's start).
pub fn consumer_args(states: &StateDir) -> Result<Vec<String>> {
    Ok(load(states)?.args())
}

/// `lab consumer`: the consumer's resilience settings.
#[derive(Debug, Args)]
pub struct ConsumerArgs {
    #[command(subcommand)]
    pub command: ConsumerCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConsumerCommand {
    /// Show the settings the consumer runs with (set ones, and the defaults)
    Show,
    /// Change settings; a running lab's consumer restarts with them (on Kubernetes: its
    /// Deployment's environment, rolled out)
    Set(SetArgs),
    /// Back to the consumer's defaults (a running consumer restarts)
    Reset(crate::cli::ReadyArgs),
}

/// Each flag sets one setting; the others keep their value.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Give up on a whole provider call after this long (e.g. 1200ms, 1.5s)
    #[arg(long, value_name = "DURATION", allow_negative_numbers = true, value_parser = parse_duration)]
    pub call_timeout: Option<u64>,
    /// Give up connecting to the provider after this long
    #[arg(long, value_name = "DURATION", allow_negative_numbers = true, value_parser = parse_duration)]
    pub connect_timeout: Option<u64>,
    /// Failed requests in a row that open the circuit (1 to 1000000)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, 1_000_000))]
    pub circuit_failures: Option<u64>,
    /// How long an open circuit answers with the fallback before a trial call
    #[arg(long, value_name = "DURATION", allow_negative_numbers = true, value_parser = parse_duration)]
    pub circuit_open: Option<u64>,
    /// Provider calls in flight at once (the bulkhead; 1 to 100000)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(1, 100_000))]
    pub max_concurrent_calls: Option<u64>,
    /// Retries of a failed provider call (0 to 10)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(0, 10))]
    pub retries: Option<u64>,
    /// Backoff before the first retry (1ms to 10s), doubling, with full jitter
    #[arg(long, value_name = "DURATION", allow_negative_numbers = true, value_parser = parse_backoff)]
    pub retry_backoff: Option<u64>,
    /// The longest backoff before a retry (1ms to 10s)
    #[arg(long, value_name = "DURATION", allow_negative_numbers = true, value_parser = parse_backoff)]
    pub retry_backoff_max: Option<u64>,
    /// Retries at most this percentage of the last second's requests (0 to 100), or
    /// `none` (no budget: naive retries)
    #[arg(long, value_name = "PERCENT|none", value_parser = parse_budget)]
    pub retry_budget: Option<String>,
    /// Retries a second the budget allows whatever the percentage (0 to 1000)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count(0, 1000))]
    pub retry_budget_floor: Option<u64>,
    #[command(flatten)]
    pub ready: crate::cli::ReadyArgs,
}

impl SetArgs {
    /// `(consumer flag, value)` for each flag given.
    fn changes(&self) -> Vec<(&'static str, String)> {
        let values: [Option<String>; 10] = [
            self.call_timeout.map(|v| v.to_string()),
            self.connect_timeout.map(|v| v.to_string()),
            self.circuit_failures.map(|v| v.to_string()),
            self.circuit_open.map(|v| v.to_string()),
            self.max_concurrent_calls.map(|v| v.to_string()),
            self.retries.map(|v| v.to_string()),
            self.retry_backoff.map(|v| v.to_string()),
            self.retry_backoff_max.map(|v| v.to_string()),
            self.retry_budget.clone(),
            self.retry_budget_floor.map(|v| v.to_string()),
        ];
        KNOBS
            .iter()
            .zip(values)
            .filter_map(|(knob, value)| Some((knob.consumer_flag, value?)))
            .collect()
    }
}

/// The longest timeout the consumer takes: an hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// The longest retry backoff the consumer takes: ten seconds.
const MAX_BACKOFF_MS: u64 = 10_000;

/// `1200ms`, `1.5s`, or a bare number of milliseconds; whole milliseconds from 1 to
/// `max_ms`.
fn duration_ms(text: &str, max_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    let range = || {
        format!(
            "must be a duration from 1ms to {} (e.g. 1200ms or 1.5s)",
            if max_ms >= 1000 {
                format!("{}s", max_ms / 1000)
            } else {
                format!("{max_ms}ms")
            }
        )
    };
    let value: f64 = number.trim().parse().map_err(|_| range())?;
    let ms = value * scale;
    if !ms.is_finite() || ms.fract() != 0.0 || ms < 1.0 || ms > max_ms as f64 {
        return Err(range());
    }
    Ok(ms as u64)
}

fn parse_duration(text: &str) -> Result<u64, String> {
    duration_ms(text, MAX_TIMEOUT_MS)
}

fn parse_backoff(text: &str) -> Result<u64, String> {
    duration_ms(text, MAX_BACKOFF_MS)
}

fn count(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |text: &str| match text.trim().parse::<i128>() {
        Ok(n) if n >= i128::from(min) && n <= i128::from(max) => Ok(n as u64),
        _ => Err(format!("must be a whole number from {min} to {max}")),
    }
}

fn parse_budget(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok("none".into());
    }
    match text.trim_end_matches('%').trim().parse::<i64>() {
        Ok(n) if (0..=100).contains(&n) => Ok(n.to_string()),
        _ => Err("must be a percentage from 0 to 100, or `none`".into()),
    }
}

/// Whether `settings` hold together (what one flag alone cannot say).
pub fn check(settings: &ConsumerSettings) -> Result<()> {
    let start = settings.number("--retry-backoff-ms").unwrap_or(50);
    let max = settings.number("--retry-backoff-max-ms").unwrap_or(1000);
    if max < start {
        bail!("--retry-backoff-max ({max}ms) must not be less than --retry-backoff ({start}ms)");
    }
    Ok(())
}

/// Runs `lab consumer ...`.
pub fn run(
    target: &mut dyn Target,
    kind: TargetKind,
    states: &StateDir,
    args: &ConsumerArgs,
) -> Result<ExitCode> {
    match &args.command {
        ConsumerCommand::Show => {
            let stored = load(states)?;
            // A cluster keeps the settings in the consumer's Deployment: show those, and
            // say when they differ from what `lab consumer set` stored here.
            match target.consumer_configuration()? {
                Some(live) => {
                    print!("{}", table(&live));
                    ui::info(format!(
                        "read from the consumer's Deployment (target `{kind}`): {}",
                        live.describe()
                    ));
                    if live != stored {
                        ui::warn(format!(
                            "the settings stored here differ ({}); `lab up --target {kind}` gives the Deployment them",
                            stored.describe()
                        ));
                    }
                }
                None => print!("{}", table(&stored)),
            }
        }
        ConsumerCommand::Set(set) => {
            let changes = set.changes();
            if changes.is_empty() {
                bail!(
                    "nothing to set: give at least one setting, e.g. `lab consumer set --call-timeout 1200ms` (see `lab consumer set --help`)"
                );
            }
            let mut settings = load(states)?;
            for (flag, value) in changes {
                settings.flags.insert(flag.to_string(), value);
            }
            check(&settings)?;
            apply(target, kind, states, &settings, set.ready.timeout_for(kind))?;
        }
        ConsumerCommand::Reset(ready) => {
            apply(
                target,
                kind,
                states,
                &ConsumerSettings::default(),
                ready.timeout_for(kind),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Stores `settings` and restarts a running consumer with them, in its mode (on
/// Kubernetes: its Deployment's environment changed, and the rollout awaited).
pub fn apply(
    target: &mut dyn Target,
    kind: TargetKind,
    states: &StateDir,
    settings: &ConsumerSettings,
    ready_timeout: Duration,
) -> Result<()> {
    save(states, settings)?;
    ui::info(format!("consumer settings: {}", settings.describe()));
    let running = target.status()?.and_then(|rows| {
        rows.into_iter()
            .find(|row| row.service == Service::Consumer)
            .map(|row| row.mode.unwrap_or_default())
    });
    match running {
        Some(mode) => target.configure_consumer(settings, mode, ready_timeout)?,
        None if kind == TargetKind::Local => {
            ui::info("no consumer is running: the next `lab up` starts it with them")
        }
        None => ui::info(format!(
            "no consumer is running: the next `lab up --target {kind}` gives its Deployment them"
        )),
    }
    if running == Some(Mode::Before) {
        ui::info(
            "the consumer runs the before system (resilience off), which uses none of them: `lab fix` turns resilience on",
        );
    }
    Ok(())
}

/// Every setting: its flag, value (set, or the default), what it does.
pub fn table(settings: &ConsumerSettings) -> String {
    let mut builder = tabled::builder::Builder::new();
    builder.push_record(["setting", "value", "what it does"]);
    for knob in &KNOBS {
        let value = match settings.flags.get(knob.consumer_flag) {
            Some(value) => shown(knob.unit, value),
            None => format!("{} (default)", knob.default),
        };
        builder.push_record([knob.lab_flag.to_string(), value, knob.what.to_string()]);
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::rounded());
    format!("{table}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        set: SetArgs,
    }

    #[test]
    fn durations_take_ms_s_or_bare_milliseconds_within_range() {
        assert_eq!(parse_duration("1200ms"), Ok(1200));
        assert_eq!(parse_duration("1.5s"), Ok(1500));
        assert_eq!(parse_duration("800"), Ok(800));
        for bad in ["0", "0ms", "-1s", "1.5ms", "3601s", "soon", "NaNs", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_backoff("11s").is_err());
    }

    #[test]
    fn set_flags_become_the_consumers_flags_in_a_stable_order() {
        let cli = Cli::try_parse_from([
            "x",
            "--retries",
            "3",
            "--call-timeout",
            "1.2s",
            "--retry-budget",
            "none",
        ])
        .unwrap();
        let mut settings = ConsumerSettings::default();
        for (flag, value) in cli.set.changes() {
            settings.flags.insert(flag.into(), value);
        }
        assert_eq!(
            settings.args(),
            [
                "--call-timeout-ms",
                "1200",
                "--retries",
                "3",
                "--retry-budget",
                "none"
            ]
        );
        assert_eq!(
            settings.describe(),
            "--call-timeout 1200ms, --retries 3, --retry-budget none"
        );
        assert_eq!(
            settings.set_command(),
            "lab consumer set --call-timeout 1200ms --retries 3 --retry-budget none"
        );
    }

    #[test]
    fn out_of_range_settings_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--retries", "11"),
            ("--circuit-failures", "0"),
            ("--retry-budget", "101"),
            ("--call-timeout", "2h"),
        ] {
            let err = Cli::try_parse_from(["x", flag, value])
                .err()
                .unwrap_or_else(|| panic!("{flag} {value} accepted"))
                .to_string();
            assert!(err.contains(flag), "{err}");
        }
        let settings = ConsumerSettings::of(&[
            ("--retry-backoff-ms", "500"),
            ("--retry-backoff-max-ms", "100"),
        ]);
        let err = check(&settings).unwrap_err().to_string();
        assert!(err.contains("--retry-backoff-max (100ms)"), "{err}");
    }

    #[test]
    fn settings_are_stored_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::at(dir.path());
        assert_eq!(load(&states).unwrap(), ConsumerSettings::default());
        let settings = ConsumerSettings::of(&[("--call-timeout-ms", "1200")]);
        save(&states, &settings).unwrap();
        assert_eq!(load(&states).unwrap(), settings);
        std::fs::write(path(&states), "{\"flags\": {\"--rm\": \"-rf\"}}").unwrap();
        let err = format!("{:#}", load(&states).unwrap_err());
        assert!(err.contains("unknown consumer setting `--rm`"), "{err}");
    }
}
