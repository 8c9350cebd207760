//! Waiting until an instant to well under a millisecond. tokio's timer rounds every
//! deadline up to its 1 ms tick (and the poller rounds its timeout up again), so a
//! latency toxic on it runs 1 to 2 ms late; the toxic must be within 1 ms. So the long
//! part of a wait is tokio's, and its last 2 ms are this module's: one thread parks
//! (a futex wait, which the kernel times to tens of microseconds) until the earliest
//! deadline and wakes the tasks that are due. Only waits of at most 2 ms reach it, so
//! its queue stays short even when waiting tasks are dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How much of a wait the precise timer does.
const FINE: Duration = Duration::from_millis(2);

struct Due {
    at: Instant,
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Entry(Instant, u64, Arc<Due>);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.0, self.1) == (other.0, other.1)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(other.0, other.1))
    }
}

struct Timer {
    queue: Mutex<(BinaryHeap<Reverse<Entry>>, u64)>,
    thread: Thread,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<&'static Timer>();
        let handle = std::thread::Builder::new()
            .name("fault-proxy-timer".into())
            .spawn(move || {
                let Ok(timer) = rx.recv() else { return };
                run(timer);
            })
            .expect("spawn the timer thread");
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new((BinaryHeap::new(), 0)),
            thread: handle.thread().clone(),
        }));
        let _ = tx.send(timer);
        timer
    })
}

fn run(timer: &'static Timer) {
    loop {
        let next = {
            let mut queue = timer.queue.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            while queue.0.peek().is_some_and(|Reverse(e)| e.0 <= now) {
                if let Some(Reverse(Entry(_, _, due))) = queue.0.pop() {
                    due.fired.store(true, Ordering::Release);
                    if let Some(w) = due.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        w.wake();
                    }
                }
            }
            queue.0.peek().map(|Reverse(e)| e.0)
        };
        match next {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

struct FineSleep {
    due: Arc<Due>,
    queued: bool,
}

impl Future for FineSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.due.fired.load(Ordering::Acquire) || Instant::now() >= self.due.at {
            return Poll::Ready(());
        }
        *self.due.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        if !self.queued {
            self.queued = true;
            let t = timer();
            let mut queue = t.queue.lock().unwrap_or_else(|e| e.into_inner());
            let earliest = queue.0.peek().is_none_or(|Reverse(e)| self.due.at < e.0);
            queue.1 += 1;
            let seq = queue.1;
            queue
                .0
                .push(Reverse(Entry(self.due.at, seq, self.due.clone())));
            drop(queue);
            if earliest {
                t.thread.unpark();
            }
        }
        // Fired between the check and the waker's registration: do not miss it.
        if self.due.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Waits until `due`, to within tens of microseconds.
pub async fn sleep_until(due: Instant) {
    let now = Instant::now();
    if due <= now {
        return;
    }
    if due - now > FINE + Duration::from_millis(1) {
        tokio::time::sleep_until((due - FINE).into()).await;
    }
    FineSleep {
        due: Arc::new(Due {
            at: due,
            fired: AtomicBool::new(false),
            waker: Mutex::new(None),
        }),
        queued: false,
    }
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_end_within_a_fraction_of_a_millisecond() {
        let mut late = Vec::new();
        for ms in [0u64, 1, 3, 7, 20] {
            for _ in 0..5 {
                let due = Instant::now() + Duration::from_millis(ms);
                sleep_until(due).await;
                let now = Instant::now();
                assert!(now >= due);
                late.push(now - due);
            }
        }
        late.sort();
        // Generous for a loaded test machine; the benchmark measures the real figure.
        assert!(
            late[late.len() / 2] < Duration::from_micros(800),
            "{late:?}"
        );
    }
}
