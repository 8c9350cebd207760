//! The `process` provider: runs an executable, returns its exit status and output.
//!
//! A non-zero exit is an output, not a failure; only a timeout fails the activity.
//! The child runs in its own process group so a timeout or an interruption kills
//! everything it started (e.g. the command of `sh -c`), also once the child itself has
//! exited and only what it started is left (holding its output pipes). The group is
//! registered with [`crate::interrupt`] so a second signal kills it too.

use super::{Output, ProviderContext, ProviderError, substituted};
use crate::interrupt::{ChildGroup, POLL};
use crate::provider::{Fields, which};
use crate::python_value::py_str;
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// A `process` provider, read after `${}` substitution (of `arguments` and `env` values,
/// only when the run has configuration or secrets, as the reference does).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// As written (`~` and `PATH` are resolved when it runs).
    pub path: String,
    pub arguments: Option<Value>,
    /// Seconds.
    pub timeout: Option<f64>,
    /// Added to the child's environment (a chaos-runner extension).
    pub env: Vec<(String, String)>,
}

impl ProcessSpec {
    /// Reads the provider as written, substituting `${}` where the reference does.
    pub fn parse(p: &Fields, ctx: &ProviderContext) -> ProcessSpec {
        ProcessSpec {
            path: p
                .path
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            arguments: p.arguments.as_ref().map(|a| substituted(a, ctx)),
            timeout: p.timeout.as_ref().and_then(Value::as_f64),
            env: match p.env.as_ref() {
                Some(Value::Object(env)) => env
                    .iter()
                    .map(|(k, v)| (k.clone(), py_str(&substituted(v, ctx))))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
}

/// Runs the process and returns the output `{status, stdout, stderr}`.
pub fn run(
    spec: &ProcessSpec,
    has_tolerance: bool,
    ctx: &ProviderContext,
) -> Result<Output, ProviderError> {
    let raw_path = spec.path.as_str();
    let path = which(raw_path)
        .ok_or_else(|| ProviderError::Failed(format!("path '{raw_path}' cannot be found")))?;
    let (arguments, timeout) = (&spec.arguments, spec.timeout);

    let mut command = match arguments {
        // A string of arguments goes through the shell, as the reference does.
        Some(Value::String(s)) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(format!("{} {}", path.display(), s));
            c
        }
        other => {
            let mut c = Command::new(&path);
            c.args(argument_list(other.as_ref()));
            c
        }
    };
    command.envs(ctx.env);
    command.envs(ctx.io.exported.snapshot());
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tracing::debug!("Running: {:?}", command);

    // In its own process group, registered for the second signal.
    let (mut child, group) = ChildGroup::spawn(&mut command).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Interrupted {
            ProviderError::Interrupted
        } else {
            ProviderError::Failed(format!("failed to start '{}': {e}", path.display()))
        }
    })?;
    // Each reader reports on `closed` when its pipe closes, so we wake up at once.
    let (closed_tx, closed) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().map(|r| reader(r, closed_tx.clone()));
    let stderr = child.stderr.take().map(|r| reader(r, closed_tx.clone()));
    drop(closed_tx);
    let mut pipes = Pipes {
        open: usize::from(stdout.is_some()) + usize::from(stderr.is_some()),
        closed,
    };
    // Range-checked at validation; checked again for runs that skipped it.
    let deadline = match timeout {
        Some(t) => Some(
            Instant::now()
                + crate::duration::from_seconds(t.max(0.0))
                    .map_err(|why| ProviderError::Failed(format!("the process timeout {why}")))?,
        ),
        None => None,
    };

    // Like the reference, wait for the child to exit and for its output pipes to close
    // (a daemon started with `&` and still holding them keeps us waiting), interruptible
    // and bounded. The child is not reaped until the end: until then its pid is the
    // group's id, whatever else has exited.
    let mut exited = false;
    let mut nap = Duration::from_millis(1);
    loop {
        if !exited {
            exited = group
                .leader_exited()
                .map_err(|e| ProviderError::Failed(format!("waiting for the process: {e}")))?;
        }
        if exited && pipes.open == 0 {
            break;
        }
        let now = Instant::now();
        let timed_out = deadline.is_some_and(|d| now >= d);
        if timed_out || ctx.cancel.is_cancelled() {
            // The whole group, even when the child itself has exited: what it started
            // may still run (and hold the pipes).
            group.kill();
            pipes.wait_closed(Instant::now() + GROUP_GONE_WAIT);
            drop(group);
            let _ = child.wait();
            return Err(if timed_out {
                too_long()
            } else {
                ProviderError::Interrupted
            });
        }
        let wait = deadline.map_or(POLL, |d| POLL.min(d - now));
        if pipes.open > 0 {
            pipes.wait_one(wait);
        } else {
            // Output closed, exit not yet seen (it is usually a moment away).
            std::thread::sleep(nap.min(wait));
            nap = (nap * 2).min(POLL);
        }
    }
    drop(group);
    let status = child
        .wait()
        .map_err(|e| ProviderError::Failed(format!("waiting for the process: {e}")))?;
    let stdout = stdout.map(collect).unwrap_or_default();
    let stderr = stderr.map(collect).unwrap_or_default();
    // Like Python's returncode: negative signal number when killed by a signal.
    let code = status.code().map(i64::from).unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        -i64::from(status.signal().unwrap_or(0))
    });
    if !has_tolerance && code > 0 {
        tracing::warn!(
            "This process returned a non-zero exit code. This may indicate some error and not what you expected. Please have a look at the logs."
        );
    }
    Ok(Output::Process {
        status: code,
        stdout,
        stderr,
    })
}

/// How long a killed group is given to close its output pipes (to be gone) before the
/// activity ends anyway.
const GROUP_GONE_WAIT: Duration = Duration::from_secs(1);

/// The child's output pipes still open, and where their readers say they closed.
struct Pipes {
    open: usize,
    closed: Receiver<()>,
}

impl Pipes {
    /// Waits up to `wait` for one more pipe to close.
    fn wait_one(&mut self, wait: Duration) {
        match self.closed.recv_timeout(wait) {
            Ok(()) => self.open -= 1,
            Err(RecvTimeoutError::Timeout) => {}
            // Every reader has finished (a panicking one drops its sender too).
            Err(RecvTimeoutError::Disconnected) => self.open = 0,
        }
    }

    /// Waits until every pipe is closed or `deadline` passes.
    fn wait_closed(&mut self, deadline: Instant) {
        while self.open > 0 {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            self.wait_one(deadline - now);
        }
    }
}

fn too_long() -> ProviderError {
    ProviderError::Failed("process activity took too long to complete".into())
}

/// List (or mapping) arguments as strings, skipping `null` and `""` like the reference.
fn argument_list(arguments: Option<&Value>) -> Vec<String> {
    let items: Vec<Value> = match arguments {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(m)) => m
            .iter()
            .flat_map(|(k, v)| [Value::String(k.clone()), v.clone()])
            .collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    items
        .iter()
        .filter(|v| !v.is_null() && v.as_str() != Some(""))
        .map(py_str)
        .collect()
}

/// Reads a pipe to its end, keeping what the journal may hold ([`super::capped_output`]).
fn reader<R: Read + Send + 'static>(
    mut r: R,
    closed: Sender<()>,
) -> std::thread::JoinHandle<super::capped_output::CappedOutput> {
    std::thread::spawn(move || {
        let mut kept = super::capped_output::CappedOutput::default();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => kept.push(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = closed.send(());
        kept
    })
}

fn collect(handle: std::thread::JoinHandle<super::capped_output::CappedOutput>) -> String {
    handle.join().unwrap_or_default().into_text()
}
