//! Shared helpers for the lab's integration tests: a lab in a temporary state directory,
//! bounded command runs, and a /proc scan for anything the lab left behind.
//!
//! Every test uses its own `LAB_STATE_DIR` and ephemeral ports, so tests run in parallel.
//! Every process the lab starts carries `LAB_STATE_DIR=<that dir>` in its environment,
//! which is how "nothing of this lab is left" is checked.

#![allow(dead_code)] // each test file uses a different part of this module

pub mod cluster;
pub mod dashboard;
pub mod ha;
pub mod hostile;
pub mod network_policy;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

pub use test_kit::process::alive;
pub use test_kit::repo::{bin_dir, require_binaries as require_bins};

/// What a finished command left.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> &Outcome {
        assert_eq!(
            self.code(),
            Some(code),
            "{what}: unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with stderr unless it contains `needle`.
    pub fn expect_stderr(&self, needle: &str) -> &Outcome {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// A child whose output is collected in the background (so pipes never fill up).
pub struct Running {
    pub child: Child,
    out: thread::JoinHandle<String>,
    err: thread::JoinHandle<String>,
}

fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    pub fn start(command: &mut Command) -> Running {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn command");
        let out = collect(child.stdout.take().expect("stdout"));
        let err = collect(child.stderr.take().expect("stderr"));
        Running { child, out, err }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `limit`; a command still running then is killed and the test fails.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "command still running after {limit:?}; output so far:\n{}\n{}",
                    self.out.join().unwrap_or_default(),
                    self.err.join().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        Outcome {
            status,
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
        }
    }
}

/// A lab in a temporary state directory. Dropping it takes the lab down and kills
/// anything of it still running, so a failing test leaks nothing.
pub struct Lab {
    dir: tempfile::TempDir,
    pub bin_dir: Option<PathBuf>,
}

impl Lab {
    pub fn new() -> Lab {
        require_bins(&["provider-app", "consumer-app"]);
        Lab {
            dir: tempfile::Builder::new()
                .prefix("lab-test-")
                .tempdir()
                .expect("temp dir"),
            bin_dir: None,
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `lab ARGS` with this lab's environment, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lab"));
        command
            .args(args)
            .env("LAB_STATE_DIR", self.dir.path())
            .env_remove("LAB_TARGET")
            .env_remove("CONSUMER_URL");
        match &self.bin_dir {
            Some(dir) => command.env("LAB_BIN_DIR", dir),
            None => command.env_remove("LAB_BIN_DIR"),
        };
        command
    }

    /// `lab ARGS` in its own process group, as a terminal runs a foreground job: a
    /// signal to the group reaches the CLI and the children it did not detach.
    pub fn start_as_job(&self, args: &[&str]) -> Running {
        let mut command = self.command(args);
        command.process_group(0);
        Running::start(&mut command)
    }

    /// Runs `lab ARGS` to completion (at most 60 s).
    pub fn run(&self, args: &[&str]) -> Outcome {
        Running::start(&mut self.command(args)).wait(Duration::from_secs(60))
    }

    /// `lab up` on free ports; panics unless it succeeds.
    pub fn up(&self, extra: &[&str]) -> Outcome {
        let mut args = vec!["up", "--provider-port", "0", "--consumer-port", "0"];
        args.extend_from_slice(extra);
        let outcome = self.run(&args);
        outcome.expect_code(0, "lab up");
        outcome
    }

    /// Panics unless no process of this lab runs any more.
    pub fn assert_nothing_left(&self) {
        let left = self.processes();
        assert!(left.is_empty(), "processes left: {left:?}");
    }

    pub fn state(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// pid of a service recorded in the state.
    pub fn pid(&self, service: &str) -> Option<u32> {
        let pid = self.state()?["services"][service]["pid"].as_u64()?;
        u32::try_from(pid).ok()
    }

    pub fn port(&self, service: &str) -> Option<u16> {
        let port = self.state()?["services"][service]["port"].as_u64()?;
        u16::try_from(port).ok()
    }

    /// Live processes started for this lab (they inherit its `LAB_STATE_DIR`).
    pub fn processes(&self) -> Vec<u32> {
        processes_with_env("LAB_STATE_DIR", self.dir.path())
    }

    /// Polls `condition` every 20 ms for at most `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut condition: impl FnMut(&Lab) -> bool) {
        let deadline = Instant::now() + limit;
        while !condition(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Running::start(&mut self.command(&["down"])).wait(Duration::from_secs(30));
        for pid in self.processes() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Processes whose environment has `key=<value>` (zombies have no environment left).
pub fn processes_with_env(key: &str, value: &Path) -> Vec<u32> {
    let wanted = format!("{key}={}", value.display()).into_bytes();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(environ) = std::fs::read(entry.path().join("environ"))
            && environ
                .split(|b| *b == 0)
                .any(|var| var == wanted.as_slice())
            && alive(pid)
        {
            found.push(pid);
        }
    }
    found
}

/// GET `url` with a short timeout: (status, body, headers as lower-case "name: value").
pub fn get(url: &str) -> Result<(u16, String, Vec<String>), String> {
    test_kit::service::install_tls_provider();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| format!("{}: {}", k.as_str(), v.to_str().unwrap_or("?")))
        .collect();
    let body = response.text().map_err(|e| e.to_string())?;
    Ok((status, body, headers))
}

/// Whether the Deployment `name` exists, asked through `kubectl` (a runner of kubectl
/// with the test's cluster and namespace); a failing kubectl fails the test with its output.
pub fn deployment_exists(kubectl: impl FnOnce(&[&str]) -> Outcome, name: &str) -> bool {
    test_kit::kube::deployment_exists(
        |args| {
            let out = kubectl(args);
            out.expect_code(0, "kubectl get deployment");
            (true, out.stdout.clone())
        },
        name,
    )
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod script");
}

/// A bin dir with the real provider and a consumer that never becomes ready (it just
/// sleeps), so a `lab up` can be caught mid-way.
pub fn bin_dir_with_stuck_consumer(root: &Path) -> PathBuf {
    let dir = root.join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    std::os::unix::fs::symlink(bin_dir().join("provider-app"), dir.join("provider-app"))
        .expect("symlink provider");
    write_script(&dir.join("consumer-app"), "exec sleep 120");
    dir
}

/// Sends `signal` to a whole process group, as a terminal does for Ctrl-C.
pub fn signal_group(pgid: u32, signal: Signal) {
    kill(Pid::from_raw(-(pgid as i32)), signal).expect("signal the process group");
}
