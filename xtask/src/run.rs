//! Running a tier's commands with their output shown and counted, and the summary: one
//! line per tier, `ran: N passed`, `FAILED (N passed before the failure; see above)` or
//! `skipped: reason`.

use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use xtask::Tier;

use crate::env::Env;
use crate::output::Output;

/// Set by Ctrl-C or SIGTERM: no further tier starts.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The processes of the commands running now (one a lane), stopped on SIGTERM (Ctrl-C
/// reaches them anyway: they share the terminal's process group).
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub fn install_interrupt_handler() {
    let installed = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        let pids = RUNNING.lock().map(|p| p.clone()).unwrap_or_default();
        for pid in pids {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    });
    if let Err(err) = installed {
        eprintln!("warning: cannot handle Ctrl-C ({err}); an interrupted run leaves no summary");
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How a tier that ran went, with the tests it saw pass.
pub enum Outcome {
    Ran { passed: u64 },
    Failed { passed: u64 },
}

/// The count in a summary line of a test run: libtest's `test result: ok. N passed; ...`
/// (or a script's `name: N passed, ...`); 0 for any other line.
pub fn passed_in(line: &str) -> u64 {
    let script_summary = line.split_once(": ").is_some_and(|(name, rest)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && rest
                .split_once(" passed")
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    if !line.starts_with("test result: ") && !script_summary {
        return 0;
    }
    line.match_indices(" passed")
        .map(|(at, _)| {
            let before = &line[..at];
            let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            before[before.len() - digits..].parse::<u64>().unwrap_or(0)
        })
        .sum()
}

/// Runs `commands` one after the other while they succeed, their output (stderr joined
/// to stdout) written to `output` as it comes and its passed tests counted.
pub fn tier(env: &Env, commands: &[Vec<String>], output: &Output) -> Outcome {
    let mut passed = 0;
    for command in commands {
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        match tee(env, program, args, output, &mut passed) {
            Ok(true) => {}
            Ok(false) => return Outcome::Failed { passed },
            Err(err) => {
                output.line(&format!("error: cannot run {program}: {err}"));
                return Outcome::Failed { passed };
            }
        }
        if interrupted() {
            return Outcome::Failed { passed };
        }
    }
    Outcome::Ran { passed }
}

fn tee(
    env: &Env,
    program: &str,
    args: &[String],
    output: &Output,
    passed: &mut u64,
) -> std::io::Result<bool> {
    let reader = env
        .cmd(program, args)
        .stderr_to_stdout()
        .unchecked()
        .reader()?;
    let pids = reader.pids();
    if let Ok(mut running) = RUNNING.lock() {
        running.extend(&pids);
    }
    let mut lines = BufReader::new(&reader);
    let mut line = Vec::new();
    let read = loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(err) => break Err(err),
        }
        output.write(&line);
        *passed += passed_in(String::from_utf8_lossy(&line).trim_end());
    };
    let ok = read.and_then(|()| reader.try_wait());
    if let Ok(mut running) = RUNNING.lock() {
        running.retain(|pid| !pids.contains(pid));
    }
    Ok(ok?.is_some_and(|o| o.status.success()))
}

/// What the run says when it skips `tier`.
pub fn skip_line(tier: Tier, reason: &str) -> String {
    format!("SKIP: {tier} tier: {reason}")
}

/// The summary: one line per tier, in the order they ran or were skipped.
pub struct Summary {
    started: Instant,
    require_all: bool,
    lines: Vec<String>,
    failed: bool,
}

impl Summary {
    pub fn new(require_all: bool) -> Summary {
        Summary {
            started: Instant::now(),
            require_all,
            lines: Vec::new(),
            failed: false,
        }
    }

    fn elapsed(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// A headline, with the seconds since the start.
    pub fn say(&self, what: &str) {
        println!("{}", self.headline(what));
    }

    /// A headline's text (after an empty line), for a lane's output.
    pub fn headline(&self, what: &str) -> String {
        format!("\n== [{}s] {what}", self.elapsed())
    }

    /// Records a tier skipped (what the run said when it skipped it: [`skip_line`]).
    pub fn skipped(&mut self, tier: Tier, reason: &str) {
        self.lines
            .push(format!("{:<13} skipped: {reason}", tier.name()));
        if self.require_all {
            self.failed = true;
        }
    }

    pub fn record(&mut self, tier: Tier, outcome: Outcome) {
        let line = match outcome {
            Outcome::Ran { passed } => format!("{:<13} ran: {passed} passed", tier.name()),
            Outcome::Failed { passed } => {
                self.failed = true;
                format!(
                    "{:<13} FAILED ({passed} passed before the failure; see above)",
                    tier.name()
                )
            }
        };
        self.lines.push(line);
    }

    /// Prints the summary; the exit status: 130 when interrupted, 1 when a tier failed
    /// (or was skipped, under CASCADE_REQUIRE_ALL_TIERS=1), else 0.
    pub fn finish(self, interrupted: bool) -> ExitCode {
        println!();
        println!("== test tiers ({}s):", self.elapsed());
        for line in &self.lines {
            println!("  {line}");
        }
        if interrupted {
            println!("  (interrupted: the tiers after the last line did not run)");
            return ExitCode::from(130);
        }
        if self.failed && self.require_all {
            eprintln!(
                "error: a tier failed or was skipped, and every tier is required (CASCADE_REQUIRE_ALL_TIERS=1)"
            );
        }
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::passed_in;

    #[test]
    fn passed_counts_come_from_summary_lines_only() {
        assert_eq!(
            passed_in("test result: ok. 13 passed; 0 failed; 2 ignored; 0 measured"),
            13
        );
        assert_eq!(
            passed_in("test result: FAILED. 4 passed; 1 failed; 0 ignored"),
            4
        );
        assert_eq!(passed_in("check-manifests: 35 passed, 0 failed"), 35);
        assert_eq!(passed_in("test foo ... ok"), 0);
        assert_eq!(passed_in("we passed 3 passed checks"), 0);
        assert_eq!(passed_in("Foo: 3 passed"), 0);
    }
}
