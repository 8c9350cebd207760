//! Real-process services (provider-app, consumer-app): start a built binary on 127.0.0.1
//! port 0, learn its address from `--addr-file`, wait until it answers, signal it, and
//! always clean it up. Every wait is bounded.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// How long a service may take to bind and answer its liveness probe.
const START_BUDGET: Duration = Duration::from_secs(15);

/// A fresh, empty directory under the system temp dir, removed by the [`Service`].
pub fn scratch_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cascade-{label}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The binary `name` built into the same target dir as `beside` (a path from
/// `env!("CARGO_BIN_EXE_...")`). Panics with what to run when it is missing.
pub fn sibling_binary(beside: &str, name: &str) -> PathBuf {
    let path = Path::new(beside).with_file_name(name);
    assert!(
        path.is_file(),
        "{} not found; build all service binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// A running service process; killed and reaped on drop.
pub struct Service {
    child: Child,
    /// `IP:PORT` the service bound.
    pub addr: String,
    dir: PathBuf,
    exited: Option<ExitStatus>,
}

impl Service {
    /// Starts `bin` with `args` (plus `--bind 127.0.0.1:0 --addr-file ...`) and `envs`,
    /// and waits until `GET /health/live` gets an HTTP answer.
    pub async fn start(bin: impl AsRef<Path>, args: &[&str], envs: &[(&str, &str)]) -> Service {
        let bin = bin.as_ref();
        let label = bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = scratch_dir(&label);
        let addr_file = dir.join("addr");
        let log = fs::File::create(dir.join("log")).expect("create log file");
        let log_err = log.try_clone().expect("clone log file");
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("PORT")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut service = Service {
            child,
            addr: String::new(),
            dir,
            exited: None,
        };
        service.addr = service.wait_for_addr(&addr_file).await;
        service.wait_until_serving().await;
        service
    }

    async fn wait_for_addr(&mut self, addr_file: &Path) -> String {
        let deadline = Instant::now() + START_BUDGET;
        while Instant::now() < deadline {
            if let Ok(text) = fs::read_to_string(addr_file)
                && text.ends_with('\n')
            {
                return text.trim().to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("service exited early with {status}; log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "no address file after {START_BUDGET:?}; log:\n{}",
            self.log()
        );
    }

    async fn wait_until_serving(&self) {
        let client = client(Duration::from_secs(2));
        let deadline = Instant::now() + START_BUDGET;
        while Instant::now() < deadline {
            // Any HTTP answer means it serves; a fault may make the probe itself fail.
            if client.get(self.url("/health/live")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("service never answered; log:\n{}", self.log());
    }

    /// `http://IP:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the service logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).unwrap_or_else(|e| panic!("send {signal}: {e}"));
    }

    /// Kills the process now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// Waits up to `budget` for the process to exit.
    pub async fn wait_exit(&mut self, budget: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `bin` to completion (bounded by `budget`; killed if it overruns) and returns its
/// output. For configuration errors, which must exit quickly.
pub fn run_to_exit(
    bin: impl AsRef<Path>,
    args: &[&str],
    envs: &[(&str, &str)],
    budget: Duration,
) -> Output {
    let bin = bin.as_ref();
    let mut child = Command::new(bin)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let deadline = Instant::now() + budget;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!(
                "{} {args:?} still running after {budget:?}; stderr: {}",
                bin.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect output")
}

/// Sends `count` requests for `path` to `addr` (`IP:PORT`) over raw connections and
/// closes each at once, without reading an answer: clients that gave up.
pub fn abandon_requests(addr: &str, path: &str, count: usize) {
    use std::io::Write;
    for _ in 0..count {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send a request");
    }
}

/// Waits up to `limit` for `condition`; panics with `what` and `detail()` otherwise.
pub async fn eventually(
    what: &str,
    limit: Duration,
    mut condition: impl FnMut() -> bool,
    detail: impl Fn() -> String,
) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "{what} within {limit:?}: {}",
            detail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Installs the workspace's TLS provider (ring) for this process, once: reqwest is built
/// without one, and building a client with none installed panics.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A port on 127.0.0.1 that nothing listens on (bound once, then released): the address
/// of a provider that is down.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// An HTTP client for tests whose every request gives up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("reqwest client")
}

/// Asserts that a configuration error exited non-zero with exactly one stderr line
/// containing every one of `needles`; returns that line.
pub fn assert_one_line_error(output: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected a non-zero exit; stderr: {stderr}"
    );
    assert!(
        output.status.code().is_some(),
        "expected an exit code, not a signal; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one stderr line, got: {stderr:?}"
    );
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "stderr line {:?} should contain {needle:?}",
            lines[0]
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

/// The fault token tests give a provider (`FAULT_API_TOKEN`) when they change its faults.
pub const FAULT_TOKEN: &str = "test-fault-token-5f3a9c1e";

/// `(FAULT_API_TOKEN, FAULT_TOKEN)`: the env a provider needs to let tests change faults.
pub const FAULT_TOKEN_ENV: (&str, &str) = ("FAULT_API_TOKEN", FAULT_TOKEN);

/// Sends `method` to `base` (`http://IP:PORT`) + `/faults` with `body` as JSON (when
/// given) and `token` as `Authorization: Bearer` (when given); returns the status and
/// the JSON answer (`Value::Null` when the body is not JSON).
pub async fn fault_request(
    base: &str,
    method: reqwest::Method,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request =
        client(Duration::from_secs(10)).request(method.clone(), format!("{base}/faults"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let res = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {base}/faults: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// `PUT /faults` with `body` and the test token, asserting 200.
pub async fn set_faults(provider: &Service, body: &str) {
    let (status, answer) = fault_request(
        &provider.url(""),
        reqwest::Method::PUT,
        Some(FAULT_TOKEN),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "PUT /faults {body}: {answer}");
}

/// Sends `signal` to `service` while a `GET path` is in flight (sent 400 ms before), and
/// asserts the graceful drain of service-common: the request is still answered 200 with
/// a body containing `body_has`, the process exits 0 within 10 s, and its log says it
/// shut down gracefully. `path` must take longer than 400 ms to answer.
pub async fn assert_drains_on(service: &mut Service, signal: Signal, path: &str, body_has: &str) {
    let request = in_flight(
        service,
        path,
        Duration::from_secs(10),
        Duration::from_millis(400),
    )
    .await;
    service.signal(signal);

    let res = request
        .await
        .expect("the request task")
        .expect("the in-flight request must be answered");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("the answer's body");
    assert!(body.contains(body_has), "{body}");
    assert_exits_zero(service).await;
    assert!(
        service.log().contains("shutting down gracefully"),
        "{}",
        service.log()
    );
}

/// Sends `GET path` to `service` in the background, with `budget` for the answer, and
/// returns after `lead` (time for the request to arrive) with the request's task.
pub async fn in_flight(
    service: &Service,
    path: &str,
    budget: Duration,
    lead: Duration,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let url = service.url(path);
    let request = tokio::spawn(async move { client(budget).get(url).send().await });
    tokio::time::sleep(lead).await;
    request
}

/// Asserts that `service` exits with status 0 within 10 s.
pub async fn assert_exits_zero(service: &mut Service) {
    let status = service
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the service must exit");
    assert_eq!(status.code(), Some(0), "log:\n{}", service.log());
}

/// Asserts that `bin` takes service-common's serve flags and their one-line errors: a
/// bad `--bind`, and a bad `SHUTDOWN_TIMEOUT_SECS` from the environment, each exit 2
/// with one line naming flag, variable and value. (service-common's own tests hold every
/// case of the shared flags; a service runs this smoke check to show it uses them.)
pub fn assert_takes_the_shared_serve_flags(bin: impl AsRef<Path>) {
    let bin = bin.as_ref();
    let budget = Duration::from_secs(10);
    let out = run_to_exit(bin, &["--bind", "nowhere"], &[], budget);
    assert_one_line_error(&out, &["--bind", "BIND", "'nowhere'", "IP:PORT"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_to_exit(bin, &[], &[("SHUTDOWN_TIMEOUT_SECS", "0")], budget);
    assert_one_line_error(
        &out,
        &[
            "--shutdown-timeout-secs",
            "SHUTDOWN_TIMEOUT_SECS",
            "'0'",
            "seconds",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `GET url` with a 10 s budget; panics when no answer comes.
pub async fn get(url: &str) -> reqwest::Response {
    client(Duration::from_secs(10))
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Bad values of flags or variables: `(flag or variable, values, what the error says)`.
pub type BadValues<'a> = &'a [(&'a str, &'a [&'a str], &'a str)];

/// Runs `bin` once per value of each `(flag, values, reason)` row with `flag=value` and
/// asserts each exits 2 with one stderr line naming the flag and the reason; returns
/// the lines, in the rows' order.
pub fn assert_bad_flags(bin: impl AsRef<Path>, table: BadValues) -> Vec<String> {
    let mut lines = Vec::new();
    for (flag, values, reason) in table {
        for value in *values {
            let arg = format!("{flag}={value}");
            let out = run_to_exit(bin.as_ref(), &[&arg], &[], Duration::from_secs(10));
            let line = assert_one_line_error(&out, &[flag, reason]);
            assert_eq!(out.status.code(), Some(2), "{arg}: {line}");
            lines.push(line);
        }
    }
    lines
}

/// Runs `bin` once per value of each `(variable, values, flag)` row with the variable
/// set to it and asserts each exits 2 with one stderr line naming flag and variable.
pub fn assert_bad_env(bin: impl AsRef<Path>, table: BadValues) {
    for (name, values, flag) in table {
        for value in *values {
            let out = run_to_exit(bin.as_ref(), &[], &[(name, value)], Duration::from_secs(10));
            let line = assert_one_line_error(&out, &[flag, name]);
            assert_eq!(out.status.code(), Some(2), "{name}={value}: {line}");
        }
    }
}

/// `GET /metrics` of `service`, asserting a 200 in Prometheus' text format; the text.
pub async fn metrics_text(service: &Service) -> String {
    let res = get(&service.url("/metrics")).await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    res.text().await.expect("the metrics' text")
}

/// Asserts that each of `lines` is a whole line of `text`.
pub fn assert_has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in:\n{text}"
        );
    }
}
