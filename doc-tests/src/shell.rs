//! Runs one command of a page the way a reader's shell would, bounded in time.
//!
//! Each command runs in its own `sh -c` with stderr merged into stdout (a reader sees
//! both, interleaved), in its own process group so a timeout ends all of it.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use wait_timeout::ChildExt;

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub output: String,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot start sh: {0}")]
    Spawn(std::io::Error),
    #[error("still running after {0:?}; its process group was killed. Output so far:\n{1}")]
    Timeout(Duration, String),
    #[error(
        "exited, but something it started kept the output open for {0:?} (a background process without its own log?)"
    )]
    OutputHeld(Duration),
}

/// Where and with what environment commands run.
#[derive(Debug, Clone)]
pub struct Shell {
    pub cwd: PathBuf,
    /// Variables set for every command.
    pub set: Vec<(String, String)>,
    /// Variables removed from the inherited environment.
    pub remove: Vec<String>,
    pub timeout: Duration,
}

/// How long output may stay open after the command itself has exited.
const DRAIN: Duration = Duration::from_secs(5);

impl Shell {
    pub fn run(&self, command: &str) -> Result<Ran, ShellError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec 2>&1\n{command}"))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        for name in &self.remove {
            cmd.env_remove(name);
        }
        for (name, value) in &self.set {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().map_err(ShellError::Spawn)?;
        let (tx, rx) = mpsc::channel();
        if let Some(mut out) = child.stdout.take() {
            thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = out.read_to_end(&mut bytes);
                let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
            });
        }
        let pgid = Pid::from_raw(child.id() as i32);
        let status = match child.wait_timeout(self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = child.wait();
                let partial = rx.recv_timeout(DRAIN).unwrap_or_default();
                return Err(ShellError::Timeout(self.timeout, partial));
            }
        };
        let output = rx
            .recv_timeout(DRAIN)
            .map_err(|_| ShellError::OutputHeld(DRAIN))?;
        Ok(Ran {
            output,
            code: status.code(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(timeout: Duration) -> Shell {
        Shell {
            cwd: std::env::temp_dir(),
            set: vec![("DOC_TEST_SET".into(), "set-value".into())],
            remove: vec!["HOME".into()],
            timeout,
        }
    }

    #[test]
    fn output_is_merged_in_order_with_the_exit_code() {
        let ran = shell(Duration::from_secs(10))
            .run("echo out; echo err >&2; echo \"$DOC_TEST_SET ${HOME:-no-home}\"; exit 3")
            .unwrap();
        assert_eq!(ran.output, "out\nerr\nset-value no-home\n");
        assert_eq!(ran.code, Some(3));
    }

    #[test]
    fn a_command_past_its_time_is_killed_whole() {
        let started = std::time::Instant::now();
        let err = shell(Duration::from_millis(300))
            .run("echo before; sleep 30 & sleep 30")
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10), "{err}");
        match err {
            ShellError::Timeout(_, partial) => assert_eq!(partial, "before\n"),
            other => panic!("expected a timeout, got {other}"),
        }
    }
}
