//! Servers of Toxiproxy's HTTP API as real processes, and the upstreams and raw HTTP
//! clients a proxy test uses. The one place every test starts such a server: fault-proxy's
//! own tests, the compatibility tier that sends the real `toxiproxy-server` v2.5.0 and
//! our fault proxy the same requests, and chaos-runner's Toxiproxy driver tests.
//!
//! A server listens on 127.0.0.1, on an ephemeral port by default (`-port 0`) or on one
//! the test chose ([`Launch::port`]). Ours writes the address it bound to
//! `--addr-file`; the real server only logs the port it was asked for, so on port 0 its
//! bound port is read from `/proc`: the listening TCP socket of the process that answers
//! `GET /version`. Every wait is bounded; the process is killed and reaped on drop
//! unless [`ProxyServer::terminate`] saw it exit.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::service::scratch_dir;

/// How long a server may take to bind its API and answer `GET /version`.
const START_BUDGET: Duration = Duration::from_secs(15);

/// How long [`ProxyServer::get`] waits for an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The variable holding our server's API token: never inherited from the environment
/// running the tests, only set by [`Launch::env`].
const TOKEN_ENV: &str = "FAULT_PROXY_API_TOKEN";

/// Which implementation of the API a [`ProxyServer`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// The real `toxiproxy-server` (on port 0, its port is learnt from `/proc`).
    Toxiproxy,
    /// Our fault proxy (its address is learnt from `--addr-file`).
    Ours,
}

/// A server that ended before it served: its exit status and what it logged.
#[derive(Debug)]
pub struct EarlyExit {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout and stderr.
    pub log: String,
}

/// How to start a [`ProxyServer`]: [`ProxyServer::launch`], then any of the options,
/// then [`Launch::start`] or [`Launch::try_start`].
#[derive(Clone, Debug)]
pub struct Launch {
    flavour: Flavour,
    bin: PathBuf,
    port: u16,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl Launch {
    /// Arguments after `-host 127.0.0.1 -port N` (e.g. `-config FILE`).
    pub fn args(mut self, args: &[&str]) -> Launch {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// An environment variable for the server (e.g. `FAULT_PROXY_API_TOKEN`).
    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.envs.push((name.to_string(), value.to_string()));
        self
    }

    /// The API's port (default 0: an ephemeral one).
    pub fn port(mut self, port: u16) -> Launch {
        self.port = port;
        self
    }

    /// Where the server's stdout and stderr go (default: a scratch file removed on
    /// drop); a file given here stays, for a test to show after a failure.
    pub fn log_file(mut self, path: &Path) -> Launch {
        self.log = Some(path.to_path_buf());
        self
    }

    /// Starts the server and waits until `GET /version` answers; panics, with the log,
    /// when it ends first.
    pub fn start(self) -> ProxyServer {
        let flavour = self.flavour;
        self.try_start().unwrap_or_else(|exit| {
            panic!(
                "{flavour:?} exited early with {}; log:\n{}",
                exit.status, exit.log
            )
        })
    }

    /// [`Launch::start`], for a start that may be refused: the exit, when the process
    /// ends before serving.
    pub fn try_start(self) -> Result<ProxyServer, EarlyExit> {
        // Tests talk to the server with reqwest, which is built without a TLS provider
        // of its own: building a client before one is installed panics.
        crate::service::install_tls_provider();
        let label = match self.flavour {
            Flavour::Toxiproxy => "toxiproxy",
            Flavour::Ours => "fault-proxy",
        };
        let dir = scratch_dir(label);
        let addr_file = dir.join("addr");
        let log = self.log.unwrap_or_else(|| dir.join("log"));
        let out = fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log file");
        let mut command = Command::new(&self.bin);
        command.args(["-host", "127.0.0.1", "-port", &self.port.to_string()]);
        if self.flavour == Flavour::Ours {
            command.arg("--addr-file").arg(&addr_file);
        }
        let child = command
            .args(&self.args)
            .env_remove(TOKEN_ENV)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let mut server = ProxyServer {
            child,
            addr: String::new(),
            flavour: self.flavour,
            dir,
            log,
            exited: None,
        };
        server.addr = server.wait_for_addr(&addr_file, self.port)?;
        server.wait_until_serving();
        Ok(server)
    }
}

/// A running Toxiproxy-API server; killed and reaped on drop.
pub struct ProxyServer {
    child: Child,
    /// `127.0.0.1:PORT` of the API.
    pub addr: String,
    /// Which implementation this is.
    pub flavour: Flavour,
    dir: PathBuf,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl ProxyServer {
    /// How to start `bin` (of `flavour`), with options.
    pub fn launch(flavour: Flavour, bin: impl AsRef<Path>) -> Launch {
        Launch {
            flavour,
            bin: bin.as_ref().to_path_buf(),
            port: 0,
            args: Vec::new(),
            envs: Vec::new(),
            log: None,
        }
    }

    /// Starts `bin` (of `flavour`) with `-host 127.0.0.1 -port 0` plus `args`, and
    /// waits until `GET /version` answers.
    pub fn start(flavour: Flavour, bin: impl AsRef<Path>, args: &[&str]) -> ProxyServer {
        ProxyServer::launch(flavour, bin).args(args).start()
    }

    /// [`ProxyServer::start`], for a start that may be refused: the exit, when the
    /// process ends before serving.
    pub fn try_start(
        flavour: Flavour,
        bin: impl AsRef<Path>,
        args: &[&str],
    ) -> Result<ProxyServer, EarlyExit> {
        ProxyServer::launch(flavour, bin).args(args).try_start()
    }

    fn wait_for_addr(&mut self, addr_file: &Path, port: u16) -> Result<String, EarlyExit> {
        let deadline = Instant::now() + START_BUDGET;
        while Instant::now() < deadline {
            let found = match self.flavour {
                Flavour::Ours => fs::read_to_string(addr_file)
                    .ok()
                    .filter(|text| text.ends_with('\n'))
                    .map(|text| text.trim().to_string()),
                Flavour::Toxiproxy if port != 0 => {
                    let addr = format!("127.0.0.1:{port}");
                    answers_version(&addr).then_some(addr)
                }
                // With `-config`, the proxies listen before the API does: the API is
                // the port that answers `GET /version`.
                Flavour::Toxiproxy => listening_ports(self.child.id())
                    .into_iter()
                    .map(|port| format!("127.0.0.1:{port}"))
                    .find(|addr| answers_version(addr)),
            };
            if let Some(addr) = found {
                return Ok(addr);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Err(EarlyExit {
                    status,
                    log: self.log(),
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{:?}: no API address after {START_BUDGET:?}; log:\n{}",
            self.flavour,
            self.log()
        );
    }

    fn wait_until_serving(&self) {
        let deadline = Instant::now() + START_BUDGET;
        while Instant::now() < deadline {
            if answers_version(&self.addr) {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "{:?} never answered GET /version on {}; log:\n{}",
            self.flavour,
            self.addr,
            self.log()
        );
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET {path}` of the API, its body as JSON; panics when it is not a 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        let answer = http_request(&self.addr, "GET", path, &[], None, READ_TIMEOUT)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.text());
        serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", answer.text()))
    }

    /// Every proxy, with its toxics (`GET /proxies`).
    pub fn proxies(&self) -> Value {
        self.get("/proxies")
    }

    /// Sends SIGTERM and waits up to `budget` for the exit: its status, or `None` when
    /// the server is still running (it is then killed on drop).
    pub fn terminate(&mut self, budget: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited {
            return Some(status);
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Whether `addr` answers `GET /version` with 200 within 2 s.
fn answers_version(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /version HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    // The status line's start is enough (a proxy's port in front of an echo upstream
    // answers with the request itself).
    let mut status = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && &status == b"HTTP/1.1 200"
}

/// The TCP ports `pid` listens on (IPv4 and IPv6), in the kernel's table order: the
/// sockets among its open files whose state in `/proc/net/tcp*` is LISTEN.
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if fields.len() < 10 || fields[3] != "0A" || !inodes.contains(fields[9]) {
                continue;
            }
            if let Some(port) = fields[1]
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// A TCP server on 127.0.0.1 that a proxy forwards to: it echoes every byte back
/// (`echo`) or answers every HTTP request with 200 (`http_ok`). One thread per
/// connection, at most [`UPSTREAM_MAX_CONNECTIONS`] at once; stops on drop.
pub struct Upstream {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

/// Connections an [`Upstream`] serves at once; more are closed at accept.
pub const UPSTREAM_MAX_CONNECTIONS: usize = 64;

/// The body an [`Upstream::http_ok`] answers with.
pub const UPSTREAM_HTTP_BODY: &str = "upstream says hello\n";

impl Upstream {
    /// Echoes what each connection sends until the peer closes its side.
    pub fn echo() -> Upstream {
        Upstream::serve(|mut stream| {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = stream.shutdown(Shutdown::Both);
        })
    }

    /// Answers each HTTP/1.1 request (headers only; bodies are not expected) with 200
    /// and [`UPSTREAM_HTTP_BODY`], keeping the connection open.
    pub fn http_ok() -> Upstream {
        Upstream::serve(|mut stream| {
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                while let Some(end) = find(&pending, b"\r\n\r\n") {
                    pending.drain(..end + 4);
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{UPSTREAM_HTTP_BODY}",
                        UPSTREAM_HTTP_BODY.len()
                    );
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
                if pending.len() > 64 * 1024 {
                    return;
                }
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
        })
    }

    fn serve(handler: fn(TcpStream)) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream");
        listener.set_nonblocking(true).expect("non-blocking accept");
        let addr = listener.local_addr().expect("upstream address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        {
            let stop = stop.clone();
            let accepted = accepted.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            if active.load(Ordering::Relaxed) >= UPSTREAM_MAX_CONNECTIONS {
                                continue;
                            }
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                            active.fetch_add(1, Ordering::Relaxed);
                            let active = active.clone();
                            thread::spawn(move || {
                                handler(stream);
                                active.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Upstream {
            addr,
            stop,
            accepted,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("upstream port")
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One HTTP answer as the wire carried it.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request over a fresh connection to `addr` exactly as given: the
/// `method` and `path` verbatim, `Host` and `Connection: close`, then `headers`, then
/// `body` with its `Content-Length` (no other header is added, so a test controls
/// `User-Agent` and `Content-Type` itself). Reads the whole answer (bounded by `timeout`
/// and 16 MiB). Errors are strings naming what failed.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("socket timeouts: {e}"))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body.unwrap_or_default());
    // A server may answer (413) and close before it has read a large body: the write
    // then fails, and the answer is still there to read.
    let sent = stream.write_all(&request);
    let mut raw = Vec::new();
    let read = (&stream).take(16 << 20).read_to_end(&mut raw);
    if raw.is_empty() {
        sent.map_err(|e| format!("send {method} {path}: {e}"))?;
        read.map_err(|e| format!("read the answer to {method} {path}: {e}"))?;
    }
    parse_answer(&raw).map_err(|e| format!("answer to {method} {path}: {e}"))
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let end = find(raw, b"\r\n\r\n").ok_or("no end of headers")?;
    let (status, headers) = parse_head(&raw[..end])?;
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        match headers.iter().find(|(n, _)| n == "content-length") {
            Some((_, len)) => {
                let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
                rest.get(..len)
                    .ok_or("body shorter than Content-Length")?
                    .to_vec()
            }
            None => rest.to_vec(),
        }
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The status code and the headers (names lower-cased) of an answer's head.
fn parse_head(head: &[u8]) -> Result<(u16, Vec<(String, String)>), String> {
    let head = std::str::from_utf8(head).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").ok_or("chunk size line unterminated")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or("chunk shorter than its size")?);
        rest = rest.get(size + 2..).ok_or("chunk unterminated")?;
    }
}

/// One request of [`http_keepalive`].
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
}

/// Sends `requests` one after another on one kept-alive connection to `addr` (each as
/// [`http_request`] sends it, without `Connection: close`), reading each answer before the
/// next request: what a client with a connection pool does. One result per request;
/// after the first failure (the server closed the connection, say) the rest are not sent.
pub fn http_keepalive(
    addr: &str,
    requests: &[Request<'_>],
    timeout: Duration,
) -> Vec<Result<Answer, String>> {
    let mut results = Vec::new();
    let mut stream = match TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(e) => return vec![Err(format!("connect {addr}: {e}"))],
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut pending: Vec<u8> = Vec::new();
    for request in requests {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\n",
            request.method, request.path
        );
        for (name, value) in request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = request.body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(request.body.unwrap_or_default());
        let answer = stream
            .write_all(&bytes)
            .map_err(|e| format!("send {} {}: {e}", request.method, request.path))
            .and_then(|()| read_one_answer(&mut stream, &mut pending, request.method == "HEAD"));
        let failed = answer.is_err();
        results.push(answer);
        if failed {
            break;
        }
    }
    results
}

/// Reads one whole answer from `stream`, keeping what follows it in `pending`.
fn read_one_answer(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    head_only: bool,
) -> Result<Answer, String> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(pending, b"\r\n\r\n") {
            let (status, headers) = parse_head(&pending[..end])?;
            let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            let rest = &pending[end + 4..];
            let no_body = head_only || status == 204 || status == 304;
            let body_len = if no_body {
                Some(0)
            } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                chunked_len(rest)
            } else {
                match header("content-length") {
                    Some(len) => {
                        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
                        (rest.len() >= len).then_some(len)
                    }
                    None => None, // until the server closes
                }
            };
            if let Some(len) = body_len {
                let whole = end + 4 + len;
                let answer = if no_body {
                    Answer {
                        status,
                        headers,
                        body: Vec::new(),
                    }
                } else {
                    parse_answer(&pending[..whole])?
                };
                pending.drain(..whole);
                return Ok(answer);
            }
        }
        if pending.len() > 16 << 20 {
            return Err("answer over 16 MiB".into());
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                // Closed: an answer without a length ends here; anything else is cut.
                return match find(pending, b"\r\n\r\n") {
                    Some(_) => {
                        let answer = parse_answer(pending)?;
                        pending.clear();
                        Ok(answer)
                    }
                    None if pending.is_empty() => Err("the server closed the connection".into()),
                    None => Err("the server closed the connection mid-answer".into()),
                };
            }
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// The length of a complete chunked body at the start of `rest` (up to and including
/// its last chunk and final CRLF), or `None` while it is incomplete.
fn chunked_len(rest: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + find(&rest[at..], b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // No trailers expected: the final CRLF.
            return (rest.len() >= at + 2).then_some(at + 2);
        }
        at += size + 2;
        if rest.len() < at {
            return None;
        }
    }
}
