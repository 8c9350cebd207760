//! Clients that misbehave, for the lab's HTTP surfaces (the dashboard, `lab traffic
//! --serve`), and what a process holds (/proc): raw sockets that send part of a request
//! and wait, read nothing, or send a URL or a header of megabytes; every one bounded in
//! count and time, on 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Lab;

/// The lab's connection and stream caps for a process with `nofile` descriptors at most,
/// as `lab`'s `http_server::{connection_cap, stream_cap}` compute them.
pub fn caps(nofile: u64) -> (usize, usize) {
    let connections = usize::try_from(nofile / 4).unwrap_or(512).clamp(16, 512);
    (connections, (connections / 2).min(256))
}

/// What a process holds: threads, open descriptors, resident memory (kB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub threads: u64,
    pub fds: u64,
    pub rss_kb: u64,
}

pub fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e} (the process is gone)"));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Usage {
        threads: field("Threads:"),
        fds,
        rss_kb: field("VmRSS:"),
    }
}

/// A raw answer: status code (0 without a status line) and the text read.
#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub text: String,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let status = text
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        Answer { status, text }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let head = self.text.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `request` (ignoring a failed write: the server may close first), closes the
/// sending half, reads at most 256 KiB for at most `limit`.
pub fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Option<Answer> {
    let mut stream = TcpStream::connect_timeout(&addr, limit).ok()?;
    stream.set_write_timeout(Some(limit)).ok()?;
    let _ = stream.write_all(request);
    let _ = stream.shutdown(Shutdown::Write);
    Some(read_some(&mut stream, limit, 256 * 1024))
}

fn read_some(stream: &mut TcpStream, limit: Duration, max: usize) -> Answer {
    let deadline = Instant::now() + limit;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    while bytes.len() < max {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    Answer::parse(&bytes)
}

/// A `GET path` as a well-behaved client sends it: the answer (status and text), or why
/// there was none within `limit`. A 503 with `Retry-After` is honoured, within `limit`.
pub fn polite_get(addr: SocketAddr, path: &str, limit: Duration) -> Result<Answer, String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let answer = exchange(addr, request.as_bytes(), left)
            .filter(|a| a.status != 0)
            .ok_or_else(|| format!("no answer to GET {path} within {limit:?}"))?;
        let retry = answer
            .header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|_| answer.status == 503 && !answer.text.contains("\"verdict\""));
        match retry {
            Some(secs) if Instant::now() + Duration::from_secs(secs) < deadline => {
                std::thread::sleep(Duration::from_secs(secs));
            }
            _ => return Ok(answer),
        }
    }
}

/// Connections held open by misbehaving clients, closed when dropped.
#[derive(Default)]
pub struct Crowd {
    held: Vec<TcpStream>,
    /// Status codes of the `/events` readers' answers (0: none within 2 s).
    pub reader_statuses: Vec<u16>,
}

impl Crowd {
    fn connect(addr: SocketAddr) -> Option<TcpStream> {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()
    }

    /// `n` readers of `/events` that read the status line and then nothing more.
    pub fn readers(&mut self, addr: SocketAddr, n: usize) {
        for _ in 0..n {
            let Some(mut stream) = Self::connect(addr) else {
                self.reader_statuses.push(0);
                continue;
            };
            let _ = stream.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = [0u8; 12];
            let status = match stream.read_exact(&mut head) {
                Ok(()) => Answer::parse(&head).status,
                Err(_) => 0,
            };
            self.reader_statuses.push(status);
            self.held.push(stream);
        }
    }

    /// `n` connections that send nothing.
    pub fn idle(&mut self, addr: SocketAddr, n: usize) {
        self.held.extend((0..n).filter_map(|_| Self::connect(addr)));
    }

    /// `n` connections that send part of a request head and wait.
    pub fn half_sent(&mut self, addr: SocketAddr, n: usize) {
        for _ in 0..n {
            if let Some(mut stream) = Self::connect(addr) {
                let _ = stream.write_all(b"GET /state.json HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                self.held.push(stream);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }
}

/// A client sending a request of `size` bytes in its URL (`url: true`) or in one header,
/// without reading until it has sent everything or the server stopped it (at most 20 s);
/// then what it got: the bytes it could send and the answer.
pub fn oversized(
    addr: SocketAddr,
    size: usize,
    url: bool,
) -> std::thread::JoinHandle<(usize, Answer)> {
    std::thread::spawn(move || {
        let Ok(mut stream) = TcpStream::connect(addr) else {
            return (0, Answer::default());
        };
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let start: &[u8] = if url {
            b"GET /"
        } else {
            b"GET /state.json HTTP/1.1\r\nX-Big: "
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        if stream.write_all(start).is_ok() {
            while sent < size && Instant::now() < deadline {
                match stream.write(&chunk) {
                    Ok(n) => sent += n,
                    Err(_) => break,
                }
            }
        }
        let _ = stream.shutdown(Shutdown::Write);
        (
            sent,
            read_some(&mut stream, Duration::from_secs(5), 64 * 1024),
        )
    })
}

/// `lab traffic --serve 127.0.0.1:0` in the background (`rate` requests/s for `seconds`),
/// and the address it serves on.
pub fn serve_traffic(lab: &Lab, rate: &str, seconds: &str) -> (super::Running, SocketAddr) {
    let job = lab.start_as_job(&[
        "traffic",
        "--rate",
        rate,
        "--duration",
        seconds,
        "--serve",
        "127.0.0.1:0",
    ]);
    let addr_file = lab.state_dir().join("run/traffic.addr");
    lab.wait_for("the impact endpoint", Duration::from_secs(10), |_| {
        std::fs::read_to_string(&addr_file).is_ok_and(|a| a.ends_with('\n'))
    });
    let addr = std::fs::read_to_string(&addr_file).expect("traffic.addr");
    (job, addr.trim().parse().expect("IP:PORT"))
}
