//! Processes the lab supervises: identity that survives pid reuse, detached spawning,
//! stopping with a bounded wait.
//!
//! A pid alone is not an identity: after a crash the kernel may hand the same pid to an
//! unrelated process, and `lab down` must never kill that one. So every process is
//! recorded with its start time (field 22 of `/proc/<pid>/stat`, in clock ticks since
//! boot), and is only "ours" while both match.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// A running process: pid plus start time, so a reused pid is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: char,
    start_time: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself
/// contain spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    // Field 3 is the state; field 22 is the start time, i.e. 19 fields after the state.
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

impl ProcessId {
    /// The identity of a live process, or `None` when there is no such process.
    pub fn of(pid: u32) -> Option<ProcessId> {
        let stat = read_stat(pid)?;
        Some(ProcessId {
            pid,
            start_time: stat.start_time,
        })
    }

    /// True while this very process runs. A zombie (killed, not yet reaped by its
    /// parent) counts as gone: it serves nothing and holds no port.
    pub fn is_running(&self) -> bool {
        match read_stat(self.pid) {
            Some(stat) => stat.start_time == self.start_time && !matches!(stat.state, 'Z' | 'X'),
            None => false,
        }
    }

    /// Sends `signal` if the process is still this one; false when it was already gone.
    /// A process that leads its own group (a service: [`spawn_detached`]) gets it with
    /// its whole group, so what it forked goes too.
    pub fn signal(&self, signal: Signal) -> bool {
        if !self.is_running() {
            return false;
        }
        let Ok(raw) = i32::try_from(self.pid) else {
            return false;
        };
        let group = self.leads_group();
        let target = Pid::from_raw(if group { -raw } else { raw });
        tracing::debug!(pid = self.pid, %signal, group, "sending signal");
        kill(target, signal).is_ok()
    }

    fn leads_group(&self) -> bool {
        i32::try_from(self.pid).is_ok_and(|raw| {
            nix::unistd::getpgid(Some(Pid::from_raw(raw))).is_ok_and(|g| g.as_raw() == raw)
        })
    }

    /// SIGKILL to what is left of the group this process led, once it is gone itself
    /// (a forked child that ignored SIGTERM). The group's id cannot be handed to a new
    /// group while any member lives, so this reaches only the stragglers.
    fn kill_stragglers(&self, led_group: bool) {
        if let (true, Ok(raw)) = (led_group, i32::try_from(self.pid)) {
            let _ = kill(Pid::from_raw(-raw), Signal::SIGKILL);
        }
    }

    /// Waits until the process is gone; false if it still runs after `timeout`.
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// SIGKILL and wait: the abrupt stop of `lab kill` (a crash, from the service's view).
    pub fn kill_now(&self) -> Result<()> {
        let led_group = self.leads_group();
        self.signal(Signal::SIGKILL);
        anyhow::ensure!(
            self.wait_gone(Duration::from_secs(5)),
            "process {} is still running 5 s after SIGKILL",
            self.pid
        );
        self.kill_stragglers(led_group);
        Ok(())
    }

    /// SIGTERM (the services shut down gracefully on it), then SIGKILL after `grace`.
    pub fn stop(&self, grace: Duration) -> Result<()> {
        let led_group = self.leads_group();
        if self.signal(Signal::SIGTERM) && self.wait_gone(grace) {
            self.kill_stragglers(led_group);
            return Ok(());
        }
        self.kill_now()
    }
}

/// Starts `program` as a background service that outlives the lab CLI: in a process group
/// of its own (a Ctrl-C typed in the terminal goes to the foreground group only, so it
/// reaches the CLI, not the services), stdin closed, stdout and stderr appended to `log`.
pub fn spawn_detached(
    program: &Path,
    args: &[String],
    envs: &[(&str, &str)],
    log: &Path,
) -> Result<Child> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open log file {}", log.display()))?;
    let err = out
        .try_clone()
        .with_context(|| format!("cannot open log file {}", log.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    for (key, value) in envs {
        command.env(key, value);
    }
    tracing::debug!(program = %program.display(), ?args, log = %log.display(), "spawning detached");
    command
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))
}

/// Reaps `child` in the background once it exits, so a service killed while this CLI is
/// still running (e.g. by `lab kill` during `lab demo`) does not linger as a zombie.
pub fn reap_in_background(mut child: Child) {
    thread::spawn(move || {
        let _ = child.wait();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // The command name contains spaces and a ')' to make sure parsing uses the last one.
        let line = "4242 (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                start_time: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn own_process_is_running_and_a_changed_start_time_is_not() {
        let me = ProcessId::of(std::process::id()).expect("own /proc entry");
        assert!(me.is_running());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(
            !reused.is_running(),
            "a pid with another start time is not ours"
        );
        // Signals are never sent to a process whose identity does not match.
        assert!(!reused.signal(Signal::SIGTERM));
    }

    #[test]
    fn a_killed_child_is_gone_even_before_it_is_reaped() {
        let child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let id = ProcessId::of(child.id()).expect("child stat");
        assert!(id.is_running());
        id.kill_now().expect("kill");
        // Not reaped yet (zombie), yet no longer running.
        assert!(!id.is_running());
        reap_in_background(child);
    }

    #[test]
    fn detached_children_get_their_own_process_group_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let child = spawn_detached(
            Path::new("sh"),
            &["-c".into(), "echo hello-$GREETING; sleep 30".into()],
            &[("GREETING", "lab")],
            &log,
        )
        .unwrap();
        let id = ProcessId::of(child.id()).unwrap();
        let pgid = nix::unistd::getpgid(Some(Pid::from_raw(child.id() as i32))).unwrap();
        assert_eq!(pgid.as_raw() as u32, child.id());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&log).unwrap().contains("hello-lab") {
            assert!(Instant::now() < deadline, "log never got the output");
            thread::sleep(Duration::from_millis(20));
        }
        id.stop(Duration::from_secs(2)).unwrap();
        assert!(!id.is_running());
        reap_in_background(child);
    }

    /// A service that forked: stopping it stops what it forked too, even a child that
    /// ignores SIGTERM and outlives its parent.
    #[test]
    fn stopping_a_service_stops_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let child = spawn_detached(
            Path::new("sh"),
            &[
                "-c".into(),
                "sh -c 'trap \"\" TERM; echo grandchild $$; exec sleep 300' & wait".into(),
            ],
            &[],
            &log,
        )
        .unwrap();
        let id = ProcessId::of(child.id()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let grandchild = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(pid) = text
                .split_whitespace()
                .skip_while(|w| *w != "grandchild")
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
            {
                break ProcessId::of(pid).expect("the grandchild runs");
            }
            assert!(Instant::now() < deadline, "the grandchild never started");
            thread::sleep(Duration::from_millis(20));
        };
        id.stop(Duration::from_millis(500)).unwrap();
        reap_in_background(child);
        assert!(
            grandchild.wait_gone(Duration::from_secs(5)),
            "pid {} (forked by the service) is still running",
            grandchild.pid
        );
    }
}
