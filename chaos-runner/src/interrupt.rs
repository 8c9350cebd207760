//! Interruption: a shared flag set by Ctrl-C / SIGTERM that running activities poll.
//!
//! Blocking work (a driver call) runs on a helper thread and async work (an HTTP call)
//! is polled alongside the flag, so the caller can give up waiting as soon as the flag is
//! set; processes are killed outright. Every provider child is spawned through
//! [`ChildGroup::spawn`], which keeps its process group in a process-wide registry: the
//! second signal kills every group still there before the CLI exits (rollbacks run
//! with a cancellation of their own, so only the registry reaches their children).

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

/// How often blocked waits look at the flag.
pub const POLL: Duration = Duration::from_millis(25);

/// Work given up on at its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// chaoslib's exit functions (`chaoslib.exit`), as Python code running in the bridge
/// asks for them: the run stops now, as on a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `exit_gracefully` (SIGUSR1 in the reference): the rollbacks the strategy asks for
    /// are played.
    Gracefully,
    /// `exit_ungracefully` (SIGUSR2): no rollback is played.
    Ungracefully,
}

impl Exit {
    /// The code the reference's signal handler exits with (its log line shows it).
    pub fn code(self) -> u8 {
        match self {
            Exit::Gracefully => 20,
            Exit::Ungracefully => 30,
        }
    }
}

/// A cancellation flag shared between the signal handler, the engine and providers,
/// and the exit asked for (the first one), if any.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    exit: std::sync::OnceLock<Exit>,
    /// A background activity's: cancelled with its parent, unless by a graceful exit.
    parent: Option<Cancel>,
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
            || self
                .0
                .parent
                .as_ref()
                .is_some_and(|p| p.is_cancelled() && p.exit_requested() != Some(Exit::Gracefully))
    }

    /// The cancellation of the method's background activities: cancelled with this one,
    /// except by a graceful exit, after which the reference waits for them to end (its
    /// exit stops only the thread running the method).
    pub fn for_background(&self) -> Cancel {
        Cancel(Arc::new(CancelState {
            parent: Some(self.clone()),
            ..CancelState::default()
        }))
    }

    /// Cancels for `exit` (the first exit asked for is the one kept).
    pub fn exit(&self, exit: Exit) {
        let _ = self.0.exit.set(exit);
        self.cancel();
    }

    /// The exit asked for, if one was.
    pub fn exit_requested(&self) -> Option<Exit> {
        self.0.exit.get().copied()
    }

    /// Sleeps up to `duration`; returns false when cancelled before the end.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            if self.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Runs `work` on a helper thread and waits for it; `None` when cancelled first
    /// (the helper is left to finish on its own: its result is dropped).
    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        self.run_within(None, work).unwrap_or(None)
    }

    /// [`run`](Self::run), abandoning `work` after `limit` too: `Err(TimedOut)` then
    /// (the helper is left to finish on its own).
    pub fn run_within<T: Send + 'static>(
        &self,
        limit: Option<Duration>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, TimedOut> {
        let deadline = limit.and_then(|l| Instant::now().checked_add(l));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(work());
        });
        loop {
            match rx.recv_timeout(POLL) {
                Ok(v) => return Ok(Some(v)),
                Err(mpsc::RecvTimeoutError::Timeout) if self.is_cancelled() => return Ok(None),
                Err(mpsc::RecvTimeoutError::Timeout)
                    if deadline.is_some_and(|d| Instant::now() >= d) =>
                {
                    return Err(TimedOut);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }
}

impl Cancel {
    /// Awaits `work`, checking the flag every [`POLL`]; `None` when cancelled first
    /// (`work` is then dropped, which aborts it).
    pub async fn until_cancelled<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                biased;
                v = &mut work => return Some(v),
                _ = tokio::time::sleep(POLL) => {
                    if self.is_cancelled() {
                        return None;
                    }
                }
            }
        }
    }
}

/// Process-wide Ctrl-C / SIGTERM handling for the CLI: the first signal cancels the
/// run gracefully, the second kills the process groups of every provider child still
/// running ([`kill_child_groups`]) and then calls `on_second` (which writes what it can
/// and exits).
pub fn install(cancel: Cancel, on_second: impl Fn() + Send + 'static) -> Result<(), ctrlc::Error> {
    let count = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            tracing::warn!("Received a termination signal (Ctrl-C)...");
            cancel.cancel();
        } else {
            // Held while `on_second` writes the journal: a provider whose child was
            // just killed cannot return and record its activity meanwhile.
            let killed = kill_child_groups();
            if killed.count() > 0 {
                tracing::warn!(
                    "Killed the process group of {} running process(es)",
                    killed.count()
                );
            }
            on_second();
            drop(killed);
        }
    })
}

/// The process groups (each its leader's pid) of the provider children spawned and not
/// yet reaped. `closed` once [`kill_child_groups`] ran: nothing is spawned after it.
#[derive(Debug)]
struct Groups {
    live: BTreeSet<i32>,
    closed: bool,
}

static GROUPS: Mutex<Groups> = Mutex::new(Groups {
    live: BTreeSet::new(),
    closed: false,
});

fn groups() -> MutexGuard<'static, Groups> {
    GROUPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long [`kill_child_groups`] waits for the killed leaders to be gone.
const KILL_WAIT: Duration = Duration::from_millis(500);

/// A provider child's process group, in the registry from its spawn until dropped.
///
/// The child is the group's leader (its pid is the group id) and must not be reaped
/// while this value lives: its zombie keeps the pid, so the group id can never name
/// another process's group, whoever kills it. Drop this, then reap.
#[derive(Debug)]
pub struct ChildGroup {
    pgid: Pid,
}

impl ChildGroup {
    /// Spawns `command` as the leader of a new process group and registers the group.
    /// Fails with [`std::io::ErrorKind::Interrupted`] once the second signal has killed
    /// the registered groups (the runner is exiting: nothing new may start).
    pub fn spawn(command: &mut Command) -> std::io::Result<(Child, ChildGroup)> {
        command.process_group(0);
        // Spawned under the lock, so the second signal sees every child or stops it
        // from starting.
        let mut groups = groups();
        if groups.closed {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "the run is being interrupted",
            ));
        }
        let child = command.spawn()?;
        let pgid = child.id() as i32;
        groups.live.insert(pgid);
        Ok((
            child,
            ChildGroup {
                pgid: Pid::from_raw(pgid),
            },
        ))
    }

    /// SIGKILL to every process of the group (the leader too, if it still runs).
    pub fn kill(&self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
    }

    /// Whether the leader has exited, without reaping it (its zombie keeps the group
    /// id ours).
    pub fn leader_exited(&self) -> std::io::Result<bool> {
        leader_exited(self.pgid)
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        groups().live.remove(&self.pgid.as_raw());
    }
}

fn leader_exited(pid: Pid) -> std::io::Result<bool> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        return match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => Ok(false),
            Ok(_) => Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => Err(e.into()),
        };
    }
}

/// The registry after [`kill_child_groups`], locked while this lives: the providers of
/// the killed children wait (before reaping them) until it is dropped.
#[derive(Debug)]
pub struct KilledGroups(MutexGuard<'static, Groups>);

impl KilledGroups {
    /// How many process groups were killed.
    pub fn count(&self) -> usize {
        self.0.live.len()
    }
}

/// Kills the process group of every provider child still running (SIGKILL), waits
/// briefly for their leaders to be gone, and lets no new child start. For the second
/// signal, just before the process exits: keep the result until then.
pub fn kill_child_groups() -> KilledGroups {
    // Held from here: a provider thread cannot reap a leader (and free its pid) while
    // its group is being killed, nor return from the activity.
    let mut groups = groups();
    groups.closed = true;
    for &pgid in &groups.live {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + KILL_WAIT;
    for &pgid in &groups.live {
        while !leader_exited(Pid::from_raw(pgid)).unwrap_or(true) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    KilledGroups(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_returns_value_or_gives_up_when_cancelled() {
        let c = Cancel::new();
        assert_eq!(c.run(|| 7), Some(7));
        c.cancel();
        let started = Instant::now();
        let r = c.run(|| {
            std::thread::sleep(Duration::from_secs(5));
            1
        });
        assert_eq!(r, None);
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(!c.sleep(Duration::from_secs(5)));
    }
}
