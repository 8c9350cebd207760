//! fault-proxy (the Toxiproxy-compatible fault proxy) as a real process: started on
//! 127.0.0.1 port 0, its API address learnt from `--addr-file`, waited for until
//! `GET /version` answers, killed on drop. Blocking and runtime-free, so sync and async
//! tests alike can use it (lab's, chaos-runner's, fault-proxy's own).

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::service::scratch_dir;

const START_BUDGET: Duration = Duration::from_secs(15);

/// A running fault-proxy.
pub struct FaultProxy {
    child: Child,
    /// The API's `IP:PORT`.
    pub api: String,
    dir: PathBuf,
    exited: Option<ExitStatus>,
}

/// The workspace's fault-proxy binary (from `cargo build --workspace --bins`).
pub fn binary() -> PathBuf {
    crate::repo::binary("fault-proxy")
}

/// One blocking HTTP/1.1 exchange with `addr` (`IP:PORT`): the status code and body.
/// Enough for probes; tests use a real client for the rest.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

impl FaultProxy {
    /// Starts `bin` with `-host 127.0.0.1 -port 0 --addr-file <tmp>` and then `args`,
    /// `envs`; returns once the API answers.
    pub fn start(bin: impl AsRef<Path>, args: &[&str], envs: &[(&str, &str)]) -> FaultProxy {
        let bin = bin.as_ref();
        let dir = scratch_dir("fault-proxy");
        let addr_file = dir.join("addr");
        let log = fs::File::create(dir.join("log")).expect("create log file");
        let log_err = log.try_clone().expect("clone log file");
        let child = Command::new(bin)
            .args(["-host", "127.0.0.1", "-port", "0", "--addr-file"])
            .arg(&addr_file)
            .args(args)
            .env_remove("FAULT_PROXY_API_TOKEN")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut proxy = FaultProxy {
            child,
            api: String::new(),
            dir,
            exited: None,
        };
        let deadline = Instant::now() + START_BUDGET;
        loop {
            if let Ok(text) = fs::read_to_string(&addr_file)
                && text.ends_with('\n')
            {
                proxy.api = text.trim().to_string();
                break;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!(
                    "fault-proxy exited early with {status}; log:\n{}",
                    proxy.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no address file; log:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        while !matches!(http(&proxy.api, "GET", "/version", ""), Ok((200, _))) {
            assert!(
                Instant::now() < deadline,
                "API never answered; log:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        proxy
    }

    /// `http://IP:PORT{path}` of the API.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to `budget` for the exit.
    pub fn terminate(&mut self, budget: Duration) -> Option<ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
