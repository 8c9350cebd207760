//! One client connection: connect to the upstream, run both directions, close as the
//! ending says (FIN, or RST for `reset_peer`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus::{IntCounter, IntGauge};
use rand::rngs::SmallRng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::link::{self, Ending, LinkCtx};
use crate::model::{Direction, ToxicList};

/// What every connection of one running proxy shares.
pub struct ProxyCtx {
    pub name: String,
    pub upstream: String,
    pub toxics: watch::Receiver<Arc<ToxicList>>,
    pub active: Arc<AtomicUsize>,
    pub max_connections: usize,
    pub connect_timeout: Duration,
    /// Received and sent bytes, indexed upstream then downstream.
    pub received: [IntCounter; 2],
    pub sent: [IntCounter; 2],
    pub accepted: IntCounter,
    pub refused: IntCounter,
    pub active_gauge: IntGauge,
    pub http_answers: IntCounter,
}

/// Counts the connection as open while it lives.
pub struct Slot(Arc<ProxyCtx>);

impl Slot {
    /// A slot, unless the proxy is at its cap.
    pub fn take(ctx: &Arc<ProxyCtx>) -> Option<Slot> {
        let taken = ctx
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < ctx.max_connections).then_some(n + 1)
            })
            .is_ok();
        if taken {
            ctx.active_gauge.inc();
            Some(Slot(ctx.clone()))
        } else {
            None
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.active_gauge.dec();
    }
}

/// Serves one accepted client until it ends or `close` says so.
pub async fn serve(
    client: TcpStream,
    slot: Slot,
    mut close: watch::Receiver<bool>,
    rngs: [SmallRng; 2],
) {
    let ctx = slot.0.clone();
    let upstream = tokio::select! {
        r = tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(ctx.upstream.as_str())) => r,
        _ = close.changed() => return,
    };
    let upstream = match upstream {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(proxy = %ctx.name, upstream = %ctx.upstream, error = %e, "unable to open connection to upstream");
            return;
        }
        Err(_) => {
            tracing::warn!(proxy = %ctx.name, upstream = %ctx.upstream, "upstream connect timed out");
            return;
        }
    };
    ctx.accepted.inc();
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let (answers_tx, answers_rx) = mpsc::channel(16);
    let [up_rng, down_rng] = rngs;
    let link_ctx = |direction: Direction, rng| {
        let i = match direction {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        };
        LinkCtx {
            direction,
            toxics: ctx.toxics.clone(),
            answers_out: None,
            answers_in: None,
            received: ctx.received[i].clone(),
            sent: ctx.sent[i].clone(),
            http_answers: ctx.http_answers.clone(),
            rng: Some(rng),
        }
    };
    let mut up_ctx = link_ctx(Direction::Upstream, up_rng);
    up_ctx.answers_out = Some(answers_tx);
    let mut down_ctx = link_ctx(Direction::Downstream, down_rng);
    down_ctx.answers_in = Some(answers_rx);

    let ending = {
        let up = link::run(&mut client_read, &mut upstream_write, up_ctx);
        let down = link::run(&mut upstream_read, &mut client_write, down_ctx);
        tokio::pin!(up, down);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            let ended = tokio::select! {
                e = &mut up, if !up_done => { up_done = true; e }
                e = &mut down, if !down_done => { down_done = true; e }
                _ = close.changed() => break Ending::Close,
            };
            if ended != Ending::Eof {
                break ended;
            }
            if up_done && down_done {
                break Ending::Eof;
            }
        }
    };
    if ending == Ending::Reset {
        // Linger 0 makes the close an RST; forgetting the write halves skips the FIN
        // their drop would send first.
        let _ = client_write.as_ref().set_zero_linger();
        let _ = upstream_write.as_ref().set_zero_linger();
        client_write.forget();
        upstream_write.forget();
    }
    drop(slot);
}
