//! One direction of one connection: read from the source, pass through the direction's
//! current toxic chain, write to the destination. With no toxic the bytes go straight
//! through (the fast path); once the direction has had a toxic, a reader stamps each
//! chunk with its arrival time and queues it (bounded) while the chain's waits run, so
//! latency counts from arrival and does not add up chunk after chunk.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use prometheus::IntCounter;
use rand::rngs::SmallRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use super::chain::{Chain, Chunk, Item, Step};
use crate::model::{Direction, ToxicList};

/// Bytes read at once, at most. A direction's buffer starts at [`FIRST_READ_BUFFER`] and
/// doubles up to this when reads fill it: request/response traffic keeps small buffers,
/// bulk transfers get large ones.
pub const READ_BUFFER: usize = 64 * 1024;
const FIRST_READ_BUFFER: usize = 4 * 1024;
/// Chunks queued per direction while toxics hold data back (at most 64 reads of 16 KiB,
/// 1 MiB; the reader then stops reading, and TCP's own flow control slows the sender).
pub const QUEUE_CHUNKS: usize = 64;
const SLOW_READ: usize = 16 * 1024;

/// How a direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The source closed; the destination's write side was shut down.
    Eof,
    /// A toxic closed the connection.
    Close,
    /// A toxic reset the connection.
    Reset,
    /// A read or write failed.
    Error,
}

enum Event {
    Data(Chunk),
    Eof,
    Error,
}

/// What a direction needs besides its two socket halves.
pub struct LinkCtx {
    pub direction: Direction,
    pub toxics: watch::Receiver<Arc<ToxicList>>,
    /// Upstream direction: where `http_status` answers go (the downstream writer).
    pub answers_out: Option<mpsc::Sender<Bytes>>,
    /// Downstream direction: answers to write to the client.
    pub answers_in: Option<mpsc::Receiver<Bytes>>,
    pub received: IntCounter,
    pub sent: IntCounter,
    pub http_answers: IntCounter,
    /// Taken by the chain when the direction first has a toxic.
    pub rng: Option<SmallRng>,
}

async fn next_answer(rx: &mut Option<mpsc::Receiver<Bytes>>) -> Bytes {
    match rx {
        Some(rx) => match rx.recv().await {
            Some(b) => b,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Waits for a change of the toxic list; pends forever once its sender is gone (the
/// connection is then closed by its proxy).
async fn toxics_changed(rx: &mut watch::Receiver<Arc<ToxicList>>, alive: &mut bool) {
    if *alive && rx.changed().await.is_ok() {
        return;
    }
    *alive = false;
    std::future::pending().await
}

async fn write(dst: &mut OwnedWriteHalf, data: &[u8], sent: &IntCounter) -> Result<(), ()> {
    dst.write_all(data).await.map_err(|_| ())?;
    sent.inc_by(data.len() as u64);
    Ok(())
}

/// Resolves (giving the receiver back) when the toxic list changes; never, once its
/// sender is gone. Owned, so the fast path keeps one alive across reads instead of
/// registering with the channel for every chunk.
async fn next_change(mut rx: watch::Receiver<Arc<ToxicList>>) -> watch::Receiver<Arc<ToxicList>> {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    rx
}

/// Byte counts kept locally and added to the shared counters every MiB and when the
/// direction ends however it ends (drop): the fast path touches no shared cache line
/// per chunk.
struct Tally {
    received: u64,
    sent: u64,
    received_total: IntCounter,
    sent_total: IntCounter,
}

impl Tally {
    const FLUSH_AT: u64 = 1 << 20;

    fn new(ctx: &LinkCtx) -> Self {
        Self {
            received: 0,
            sent: 0,
            received_total: ctx.received.clone(),
            sent_total: ctx.sent.clone(),
        }
    }

    fn flush(&mut self) {
        self.received_total
            .inc_by(std::mem::take(&mut self.received));
        self.sent_total.inc_by(std::mem::take(&mut self.sent));
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Runs the direction until it ends.
pub async fn run(src: &mut OwnedReadHalf, dst: &mut OwnedWriteHalf, mut ctx: LinkCtx) -> Ending {
    let mut buf = vec![0u8; FIRST_READ_BUFFER];
    let mut tally = Tally::new(&ctx);
    let mut change = Box::pin(next_change(ctx.toxics.clone()));
    // Fast path: no toxic on this direction.
    let ending = loop {
        if !ctx
            .toxics
            .borrow_and_update()
            .chain(ctx.direction)
            .is_empty()
        {
            break None;
        }
        tokio::select! {
            biased;
            rx = &mut change => change = Box::pin(next_change(rx)),
            answer = next_answer(&mut ctx.answers_in) => {
                if dst.write_all(&answer).await.is_err() {
                    break Some(Ending::Error);
                }
                tally.sent += answer.len() as u64;
            }
            read = src.read(&mut buf) => match read {
                Ok(0) => {
                    tally.flush();
                    let _ = dst.shutdown().await;
                    break Some(Ending::Eof);
                }
                Ok(n) => {
                    tally.received += n as u64;
                    if dst.write_all(&buf[..n]).await.is_err() {
                        break Some(Ending::Error);
                    }
                    tally.sent += n as u64;
                    if n == buf.len() && buf.len() < READ_BUFFER {
                        buf.resize(buf.len() * 2, 0);
                    }
                    if tally.sent >= Tally::FLUSH_AT {
                        tally.flush();
                    }
                }
                Err(_) => break Some(Ending::Error),
            },
        }
    };
    tally.flush();
    drop(change);
    match ending {
        Some(ending) => ending,
        None => {
            drop(buf);
            slow(src, dst, ctx, true).await
        }
    }
}

async fn slow(
    src: &mut OwnedReadHalf,
    dst: &mut OwnedWriteHalf,
    ctx: LinkCtx,
    alive: bool,
) -> Ending {
    let (tx, rx) = mpsc::channel::<Event>(QUEUE_CHUNKS);
    let received = ctx.received.clone();
    let reader = async move {
        let mut buf = BytesMut::with_capacity(SLOW_READ);
        loop {
            buf.reserve(SLOW_READ);
            let event = match src.read_buf(&mut buf).await {
                Ok(0) => Event::Eof,
                Ok(n) => {
                    received.inc_by(n as u64);
                    Event::Data(Chunk {
                        data: buf.split().freeze(),
                        at: Instant::now(),
                    })
                }
                Err(_) => Event::Error,
            };
            let last = !matches!(event, Event::Data(_));
            if tx.send(event).await.is_err() || last {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let processor = Processor {
        dst,
        ctx,
        alive,
        dirty: true,
        interrupted: false,
    }
    .run(rx);
    tokio::select! {
        ending = processor => ending,
        () = reader => Ending::Error,
    }
}

struct Processor<'a> {
    dst: &'a mut OwnedWriteHalf,
    ctx: LinkCtx,
    alive: bool,
    /// The toxic list changed since the chain was built.
    dirty: bool,
    /// A change came while a piece was held: what is in flight now goes straight out.
    interrupted: bool,
}

enum Flow {
    Continue,
    End(Ending),
}

impl Processor<'_> {
    async fn run(mut self, mut rx: mpsc::Receiver<Event>) -> Ending {
        let rng = self
            .ctx
            .rng
            .take()
            .unwrap_or_else(|| rand::SeedableRng::seed_from_u64(0));
        let mut chain = Chain::new(rng);
        loop {
            if self.dirty {
                let list = self.ctx.toxics.borrow_and_update().clone();
                chain.rebuild(list.chain(self.ctx.direction));
                self.dirty = false;
            }
            let deadline = chain.idle_deadline();
            tokio::select! {
                biased;
                () = toxics_changed(&mut self.ctx.toxics, &mut self.alive) => self.dirty = true,
                answer = next_answer(&mut self.ctx.answers_in) => {
                    if write(self.dst, &answer, &self.ctx.sent).await.is_err() {
                        return Ending::Error;
                    }
                }
                () = sleep_until(deadline.unwrap_or_else(far).into()), if deadline.is_some() => {
                    return Ending::Close;
                }
                event = rx.recv() => {
                    let item = match event {
                        Some(Event::Data(c)) => Item::Data(c),
                        Some(Event::Eof) => Item::Eof,
                        Some(Event::Error) | None => return Ending::Error,
                    };
                    let flow = self.process(&mut chain, item).await;
                    if chain.answered > 0 {
                        self.ctx.http_answers.inc_by(chain.answered);
                        chain.answered = 0;
                    }
                    if let Flow::End(ending) = flow {
                        return ending;
                    }
                }
            }
        }
    }

    /// Waits until `due` unless the toxic list changes first.
    async fn wait(&mut self, due: Instant) {
        if self.interrupted {
            return;
        }
        tokio::select! {
            () = super::timer::sleep_until(due) => {}
            () = toxics_changed(&mut self.ctx.toxics, &mut self.alive) => {
                self.dirty = true;
                self.interrupted = true;
            }
        }
    }

    /// Passes one item through the chain, toxic by toxic, piece by piece in order.
    async fn process(&mut self, chain: &mut Chain, item: Item) -> Flow {
        self.interrupted = false;
        let mut stack: Vec<(usize, std::collections::VecDeque<Step>)> =
            vec![(0, [Step::Pass(item)].into())];
        let mut steps = Vec::new();
        while let Some((index, queue)) = stack.last_mut() {
            let index = *index;
            let Some(step) = queue.pop_front() else {
                stack.pop();
                continue;
            };
            let item = match step {
                Step::Pass(item) => item,
                Step::Wait(due, item) => {
                    self.wait(due).await;
                    item
                }
                Step::Close(due) => {
                    self.wait(due).await;
                    return Flow::End(Ending::Close);
                }
                Step::Reset(due) => {
                    self.wait(due).await;
                    return Flow::End(Ending::Reset);
                }
                Step::Answer(bytes) => {
                    if let Some(out) = &self.ctx.answers_out {
                        let _ = out.send(bytes).await;
                    }
                    continue;
                }
            };
            if index >= chain.len() || self.interrupted {
                match item {
                    Item::Data(c) => {
                        if write(self.dst, &c.data, &self.ctx.sent).await.is_err() {
                            return Flow::End(Ending::Error);
                        }
                    }
                    Item::Eof => {
                        let _ = self.dst.shutdown().await;
                        return Flow::End(Ending::Eof);
                    }
                }
                continue;
            }
            chain.apply(index, item, &mut steps);
            stack.push((index + 1, steps.drain(..).collect()));
        }
        Flow::Continue
    }
}

fn far() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86400 * 365)
}
