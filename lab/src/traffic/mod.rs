//! User traffic: a fixed request rate against the consumer, each answer classified and
//! kept as a time series that `lab traffic`, the impact endpoint and the demo read.
//!
//! [`Traffic::start`] runs the generator on its own tokio runtime in a thread, so the
//! rest of the lab (blocking code) can drive it: `schedule` (when each request is due),
//! `classify` (what the answer means for a user), `series` (buckets of counts and
//! latencies, written as JSON lines), `serve` (the impact endpoint), `command` (the
//! `lab traffic` command).

mod classify;
pub mod command;
mod schedule;
mod series;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Notify, Semaphore};

pub use classify::{FailureCause, Outcome};
pub use schedule::Schedule;
pub use series::{Series, Summary};
pub use serve::ImpactServer;

/// The bounds of every number `lab traffic` takes (checked where the flags are parsed).
pub mod limits {
    use std::time::Duration;

    pub const MAX_RATE: f64 = 10_000.0;
    /// One request every 100 s: below that a run of at most an hour sends hardly any.
    pub const MIN_RATE: f64 = 0.01;
    pub const MAX_DURATION: Duration = Duration::from_secs(3600);
    /// A tenth of a second: the shortest run that holds a request at any useful rate.
    pub const MIN_DURATION: Duration = Duration::from_millis(100);
    pub const MAX_CONCURRENCY: u32 = 10_000;
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
    /// 10 ms: a loopback request takes a few; anything shorter times every one out.
    pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

    fn number(text: &str) -> Result<f64, String> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(format!("`{text}` is not a finite number"))
        }
    }

    /// Requests per second: at least 0.01, at most 10,000.
    pub fn rate(text: &str) -> Result<f64, String> {
        let value = number(text)?;
        if (MIN_RATE..=MAX_RATE).contains(&value) {
            Ok(value)
        } else {
            // The value as written: `{value}` of 1e-300 is 300 digits.
            Err(format!(
                "`{}` requests per second is out of range (at least {MIN_RATE} requests per second, at most {MAX_RATE})",
                text.trim()
            ))
        }
    }

    fn seconds(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
        let value = number(text)?;
        if (min.as_secs_f64()..=max.as_secs_f64()).contains(&value) {
            Ok(Duration::from_secs_f64(value))
        } else {
            Err(format!(
                "`{}` s is out of range (at least {} s, at most {} s)",
                text.trim(),
                min.as_secs_f64(),
                max.as_secs()
            ))
        }
    }

    /// Seconds of traffic: at least 0.1, at most an hour.
    pub fn duration(text: &str) -> Result<Duration, String> {
        seconds(text, MIN_DURATION, MAX_DURATION)
    }

    /// Seconds one request may take: at least 0.01, at most 60.
    pub fn timeout(text: &str) -> Result<Duration, String> {
        seconds(text, MIN_TIMEOUT, MAX_TIMEOUT)
    }

    /// An address to serve on: loopback only (the lab's endpoints are for this machine).
    pub fn loopback(text: &str) -> Result<std::net::SocketAddr, String> {
        let addr: std::net::SocketAddr = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not IP:PORT"))?;
        if addr.ip().is_loopback() {
            Ok(addr)
        } else {
            Err(format!(
                "{addr} is not a loopback address; serve on 127.0.0.1 (or ::1)"
            ))
        }
    }

    /// Requests in flight at once: 1 to 10,000.
    pub fn concurrency(text: &str) -> Result<u32, String> {
        match text.trim().parse::<u32>() {
            Ok(value) if (1..=MAX_CONCURRENCY).contains(&value) => Ok(value),
            Ok(value) => Err(format!(
                "{value} is out of range (1 to {MAX_CONCURRENCY} requests in flight)"
            )),
            Err(_) => Err(format!("`{text}` is not a whole number")),
        }
    }
}

/// What to send, how fast, and how long to wait.
#[derive(Debug, Clone)]
pub struct Config {
    /// The consumer's `/invokeConsumedService`.
    pub url: String,
    pub schedule: Schedule,
    /// Requests in flight at most; a request due while this many are in flight is not
    /// sent and counts as failed ("concurrency cap"), so a stall can never shrink the
    /// number of requests or shift their due times.
    pub concurrency: u32,
    /// Per request, from sending to the end of the body.
    pub timeout: Duration,
    /// The series' bucket width.
    pub bucket: Duration,
    /// Where the settled buckets go as JSON lines (`None`: memory only).
    pub jsonl: Option<PathBuf>,
}

/// The generator, running. Dropping it stops it (without waiting for its requests).
pub struct Traffic {
    series: Series,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<Result<()>>>,
}

#[derive(Default)]
struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

impl Stop {
    fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }
}

impl Traffic {
    /// Starts sending now; the series' clock starts here too.
    pub fn start(config: Config) -> Result<Traffic> {
        // reqwest is built without a TLS provider of its own (see `health::client`).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(config.timeout)
            .pool_max_idle_per_host(config.concurrency as usize)
            .build()
            .context("cannot create the traffic's HTTP client")?;
        let sink = match &config.jsonl {
            Some(path) => Some(open_sink(path)?),
            None => None,
        };
        // One worker keeps up with a few hundred requests a second (the demo's 50 cost it
        // little); more rate gets a second one (bench/RESULTS.md, issue 15).
        let workers = if config.schedule.rate() > 1000.0 {
            2
        } else {
            1
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("traffic")
            .enable_all()
            .build()
            .context("cannot start the traffic's runtime")?;
        let series = Series::new(config.bucket);
        let stop = Arc::new(Stop::default());
        let thread = std::thread::Builder::new()
            .name("traffic".into())
            .spawn({
                let (series, stop) = (series.clone(), Arc::clone(&stop));
                move || runtime.block_on(generate(config, client, series, stop, sink))
            })
            .context("cannot start the traffic thread")?;
        Ok(Traffic {
            series,
            stop,
            thread: Some(thread),
        })
    }

    /// The live series (another handle on the same data).
    pub fn series(&self) -> &Series {
        &self.series
    }

    /// True once the schedule is over and every request has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops sending, waits for the requests in flight (each bounded by the timeout) and
    /// the last JSON lines, and returns the series.
    pub fn stop(mut self) -> Result<Series> {
        self.stop.request();
        self.join()
    }

    /// As [`Traffic::stop`], but waits at most `limit` for the requests in flight (after
    /// Ctrl-C: the user wants the table now); those still out count as `in_flight`.
    pub fn stop_within(mut self, limit: Duration) -> Result<Series> {
        self.stop.request();
        let deadline = Instant::now() + limit;
        while !self.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.is_finished() {
            self.join()
        } else {
            Ok(self.series.clone())
        }
    }

    fn join(&mut self) -> Result<Series> {
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("the traffic thread panicked"))??;
        }
        Ok(self.series.clone())
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.request();
    }
}

/// Where the JSON lines go. A regular file is replaced whole each time lines settle (a
/// reader, or a crash, never finds half a line); a FIFO or stdout gets each new line
/// once, in place.
struct Sink {
    path: PathBuf,
    /// Every line so far, when the file is replaced whole.
    whole: Option<Vec<u8>>,
}

fn open_sink(path: &Path) -> Result<Sink> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let place = atomic_file::place(path)?;
    let whole = matches!(place, atomic_file::Place::Replace(_)).then(Vec::new);
    if let Some(empty) = &whole {
        // A new series replaces the last one's file at once.
        atomic_file::write(path, empty)?;
    }
    Ok(Sink {
        path: path.to_path_buf(),
        whole,
    })
}

fn write_settled(series: &Series, sink: &mut Sink) -> Result<()> {
    let mut new = Vec::new();
    for line in series.settled_lines() {
        serde_json::to_writer(&mut new, &line).context("cannot encode a traffic bucket")?;
        new.push(b'\n');
    }
    if new.is_empty() {
        return Ok(());
    }
    let written = match &mut sink.whole {
        Some(all) => {
            all.extend_from_slice(&new);
            atomic_file::write(&sink.path, all)
        }
        None => atomic_file::append(&sink.path, &new),
    };
    written.context("cannot write the traffic's JSON lines")?;
    Ok(())
}

async fn generate(
    config: Config,
    client: reqwest::Client,
    series: Series,
    stop: Arc<Stop>,
    sink: Option<Sink>,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(config.concurrency as usize));
    let url: Arc<str> = config.url.as_str().into();
    // Settled buckets are written as they settle, for tools that follow the file; the
    // end wakes the writer at once (`notify_one` keeps the wake-up if it is not waiting).
    let closed = Arc::new(Notify::new());
    let writer = sink.map(|mut sink| {
        let (series, closed) = (series.clone(), Arc::clone(&closed));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while !series.is_closed() {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = closed.notified() => {}
                }
                write_settled(&series, &mut sink)?;
            }
            write_settled(&series, &mut sink)
        })
    });
    let start = series.started();
    let count = config.schedule.count();
    for i in 0..count {
        let offset = config.schedule.due(i);
        let due = start + offset;
        if due > Instant::now() {
            let notified = stop.notify.notified();
            if stop.requested() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => {}
                () = notified => break,
            }
        }
        if stop.requested() {
            break;
        }
        let sent = Instant::now();
        series.record_sent(offset, sent.saturating_duration_since(due));
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            series.record(
                offset,
                &Outcome::Failed {
                    cause: FailureCause::ConcurrencyCap,
                },
                Duration::ZERO,
            );
            continue;
        };
        let (client, url, series, timeout) = (
            client.clone(),
            Arc::clone(&url),
            series.clone(),
            config.timeout,
        );
        tokio::spawn(async move {
            let outcome = request(&client, &url, timeout).await;
            series.record(offset, &outcome, due.elapsed());
            drop(permit);
        });
    }
    // Every request in flight ends within its timeout; then all permits are back.
    let _all = permits
        .acquire_many(config.concurrency)
        .await
        .context("the traffic's permits were closed")?;
    series.close();
    closed.notify_one();
    if let Some(writer) = writer {
        writer.await.context("the traffic's writer stopped")??;
    }
    Ok(())
}

/// One request: the answer classified, the body read to the end (so the latency is the
/// user's whole wait).
async fn request(client: &reqwest::Client, url: &str, timeout: Duration) -> Outcome {
    let response = match client.get(url).timeout(timeout).send().await {
        Ok(response) => response,
        Err(err) => return classify::error(&err),
    };
    let outcome = classify::answer(response.status().as_u16(), response.headers());
    match response.bytes().await {
        Ok(_) => outcome,
        Err(err) => classify::error(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::limits;

    #[test]
    fn numbers_out_of_range_are_refused_with_the_bounds() {
        assert_eq!(limits::rate("50"), Ok(50.0));
        for bad in ["0", "-1", "10001", "nan", "inf", "x"] {
            assert!(limits::rate(bad).is_err(), "{bad}");
        }
        assert!(limits::rate("0").unwrap_err().contains("at least 0.01"));
        assert!(
            limits::rate("1e-300")
                .unwrap_err()
                .starts_with("`1e-300` requests")
        );
        assert!(
            limits::timeout("0.001")
                .unwrap_err()
                .contains("at least 0.01 s")
        );
        assert!(
            limits::duration("0.05")
                .unwrap_err()
                .contains("at least 0.1 s")
        );
        assert_eq!(limits::rate("0.01"), Ok(0.01));
        assert_eq!(
            limits::duration("2.5"),
            Ok(std::time::Duration::from_millis(2500))
        );
        assert!(
            limits::duration("3601")
                .unwrap_err()
                .contains("at most 3600 s")
        );
        assert!(limits::timeout("0").is_err());
        assert!(limits::timeout("61").is_err());
        assert_eq!(limits::concurrency("1"), Ok(1));
        assert!(limits::concurrency("0").unwrap_err().contains("1 to 10000"));
        assert!(limits::concurrency("1.5").is_err());
        assert!(limits::loopback("127.0.0.1:0").is_ok());
        assert!(
            limits::loopback("0.0.0.0:8082")
                .unwrap_err()
                .contains("loopback")
        );
    }
}
