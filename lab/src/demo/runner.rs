//! Running an experiment runner (chaos-runner, or the Python `chaos`) as a child: its
//! output is echoed, indented, as it comes and kept for the narration; Ctrl-C stops it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::interrupt::{self, Interrupted, Started};
use crate::process::ProcessId;
use crate::ui;

/// How a runner is invoked.
#[derive(Debug, Clone)]
pub struct Runner {
    pub program: PathBuf,
    /// What the demo started: the runner joins it while it runs.
    pub started: Started,
    /// `lab demo --dashboard`: each line also goes to the dashboard (its events).
    pub dashboard: Option<crate::dashboard::Dashboard>,
}

/// What a run left behind.
#[derive(Debug)]
pub struct RunOutput {
    /// The runner's exit code (`None` when a signal ended it).
    pub exit_code: Option<i32>,
    /// Everything it printed (stdout and stderr, interleaved).
    pub lines: Vec<String>,
}

impl Runner {
    /// True for the Python Chaos Toolkit's `chaos`, which needs a flag not to call home.
    pub fn is_python_chaos(&self) -> bool {
        self.program.file_name().is_some_and(|name| name == "chaos")
    }

    /// The arguments of `run`, as both runners spell them.
    pub fn arguments(&self, experiment: &Path, journal: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        if self.is_python_chaos() {
            // Otherwise it first asks chaostoolkit.org for a newer release.
            args.push("--no-version-check".into());
        }
        args.push("run".into());
        args.push("--journal-path".into());
        args.push(journal.into());
        args.push(experiment.into());
        args
    }

    /// The command line as a user would type it, for the narration.
    pub fn display(&self, experiment: &Path, journal: &Path) -> String {
        let name = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string());
        let args: Vec<String> = self
            .arguments(experiment, journal)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("{name} {}", args.join(" "))
    }

    /// Runs the experiment in `dir` with `env` added, echoing output as it arrives.
    pub fn run(
        &self,
        experiment: &Path,
        journal: &Path,
        dir: &Path,
        env: &[(&str, OsString)],
    ) -> Result<RunOutput> {
        let _ = std::fs::remove_file(journal);
        let mut expression = duct::cmd(&self.program, self.arguments(experiment, journal))
            .dir(dir)
            .stdin_null()
            .stderr_to_stdout()
            .unchecked();
        for (key, value) in env {
            expression = expression.env(key, value);
        }
        let handle = Arc::new(
            expression
                .reader()
                .with_context(|| format!("cannot start {}", self.program.display()))?,
        );
        let pids = handle.pids();
        tracing::debug!(program = %self.program.display(), ?pids, "runner started");
        for pid in &pids {
            if let Some(process) = ProcessId::of(*pid) {
                self.started.track(process);
            }
        }

        let reader = Arc::clone(&handle);
        // The Python toolkit colours its log lines even into a pipe: keep the colour for
        // a terminal, strip it for logs, and always keep plain text for the narration.
        let colour = console::Term::stdout().is_term();
        // On a terminal, a spinner under the echoed lines shows the run is alive while it
        // waits (the experiment's pause, a probe's timeout) and for how long.
        let progress = if colour {
            ui::spinner("experiment running".to_string())
        } else {
            None
        };
        let echo_progress = progress.clone();
        let dashboard = self.dashboard.clone();
        let echo = thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(&*reader).lines() {
                let Ok(line) = line else { break };
                let plain = console::strip_ansi_codes(&line).into_owned();
                let shown = if colour { &line } else { &plain };
                let print = || println!("  {} {shown}", ui::dim("│"));
                match &echo_progress {
                    Some(bar) => {
                        bar.suspend(print);
                        bar.set_message(format!("after: {}", last_words(&plain)));
                        bar.reset_elapsed();
                    }
                    None => print(),
                }
                if let Some(dashboard) = &dashboard {
                    dashboard.runner_line(&plain);
                }
                lines.push(plain);
            }
            lines
        });

        let exit_code = loop {
            if let Some(output) = handle.try_wait().context("cannot watch the runner")? {
                break output.status.code();
            }
            if interrupt::check().is_err() {
                stop(&handle, &pids);
                let _ = echo.join();
                if let Some(bar) = &progress {
                    bar.finish_and_clear();
                }
                return Err(Interrupted.into());
            }
            thread::sleep(Duration::from_millis(50));
        };
        let lines = echo.join().unwrap_or_default();
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
        for pid in &pids {
            if let Some(process) = ProcessId::of(*pid) {
                self.started.untrack(process);
            }
        }
        Ok(RunOutput { exit_code, lines })
    }
}

/// The message part of a runner's log line (after its timestamp and level), shortened to
/// fit the spinner's line.
fn last_words(line: &str) -> String {
    const WIDTH: usize = 60;
    let message = line
        .split_once("] ")
        .map(|(_, rest)| rest)
        .unwrap_or(line)
        .trim();
    if message.chars().count() <= WIDTH {
        message.to_string()
    } else {
        let cut: String = message.chars().take(WIDTH - 1).collect();
        format!("{cut}…")
    }
}

/// Interrupts the runner like a terminal would (so it writes its journal), then kills it
/// if it has not finished within a few seconds.
fn stop(handle: &duct::ReaderHandle, pids: &[u32]) {
    for pid in pids {
        if let Some(process) = ProcessId::of(*pid) {
            process.signal(Signal::SIGINT);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(handle.try_wait(), Ok(Some(_))) {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = handle.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_shows_the_message_of_the_last_log_line() {
        assert_eq!(
            last_words("[2026-11-26 18:00:00 INFO] Pausing after activity for 15s..."),
            "Pausing after activity for 15s..."
        );
        assert_eq!(last_words("  plain line "), "plain line");
        let long = format!("[t INFO] {}", "x".repeat(100));
        let shown = last_words(&long);
        assert_eq!(shown.chars().count(), 60);
        assert!(shown.ends_with('…'));
    }

    fn runner(program: impl Into<PathBuf>) -> Runner {
        Runner {
            dashboard: None,
            program: program.into(),
            started: Started::new(interrupt::Ownership::Keep),
        }
    }

    #[test]
    fn both_runners_get_the_same_run_arguments() {
        let ours = runner("/x/chaos-runner");
        let python = runner("/venv/bin/chaos");
        let (exp, journal) = (Path::new("e.json"), Path::new("j.json"));
        assert_eq!(
            ours.display(exp, journal),
            "chaos-runner run --journal-path j.json e.json"
        );
        assert_eq!(
            python.display(exp, journal),
            "chaos --no-version-check run --journal-path j.json e.json"
        );
    }

    #[test]
    fn output_and_exit_code_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-runner");
        std::fs::write(
            &script,
            "#!/bin/sh\necho \"args: $*\"\necho \"to stderr $GREETING\" >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let output = runner(script)
            .run(
                Path::new("e.json"),
                &dir.path().join("j.json"),
                dir.path(),
                &[("GREETING", "hi".into())],
            )
            .unwrap();
        assert_eq!(output.exit_code, Some(3));
        assert_eq!(
            output.lines,
            vec![
                format!(
                    "args: run --journal-path {} e.json",
                    dir.path().join("j.json").display()
                ),
                "to stderr hi".to_string()
            ]
        );
    }
}
