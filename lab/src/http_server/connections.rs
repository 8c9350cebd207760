//! The accept loop and the connections it holds: the cap, who makes room, the 503 for a
//! newcomer when nobody can, and the transport wrapper that notices a client reading
//! nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_service::Service;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Sleep;

use super::{QUIET, RETRY_AFTER_SECS, WRITE_STALL};

/// How long a refusal may take (writing the 503, reading what the client sent).
const REFUSAL_TIME: Duration = Duration::from_secs(1);

struct Open {
    /// When the connection last wrote (or was accepted).
    activity: Rc<Cell<Instant>>,
    task: AbortHandle,
}

/// The connections one server holds.
pub(super) struct Connections {
    cap: usize,
    /// Refusals under way at once at most (half the cap: each holds a descriptor for up
    /// to [`REFUSAL_TIME`]); beyond, a newcomer is closed without a word.
    max_refusing: usize,
    next_id: Cell<u64>,
    open: RefCell<HashMap<u64, Open>>,
    refusing: Cell<usize>,
}

/// Takes a connection off the books when its task ends, however it ends.
struct Entry {
    connections: Rc<Connections>,
    id: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.open.try_borrow_mut() {
            open.remove(&self.id);
        }
    }
}

struct Refusing(Rc<Connections>);

impl Drop for Refusing {
    fn drop(&mut self) {
        self.0.refusing.set(self.0.refusing.get().saturating_sub(1));
    }
}

impl Connections {
    pub(super) fn new(cap: usize) -> Rc<Connections> {
        Rc::new(Connections {
            cap,
            max_refusing: (cap / 2).max(8),
            next_id: Cell::new(0),
            open: RefCell::new(HashMap::new()),
            refusing: Cell::new(0),
        })
    }

    /// Accepts for ever, handing each connection to `service` on a task of its own.
    pub(super) async fn accept<S>(self: Rc<Self>, listener: TcpListener, service: Rc<S>)
    where
        S: Service<(Tracked, Option<SocketAddr>)> + 'static,
    {
        let mut warned: Option<Instant> = None;
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => self.admit(stream, peer, &service),
                Err(err) => {
                    // Out of descriptors (or a connection reset in the queue): the
                    // listener stays; a pause lets connections close before the next try.
                    if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(%err, "cannot accept a connection; retrying");
                        warned = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn admit<S>(self: &Rc<Self>, stream: TcpStream, peer: SocketAddr, service: &Rc<S>)
    where
        S: Service<(Tracked, Option<SocketAddr>)> + 'static,
    {
        if self.open.borrow().len() >= self.cap && !self.make_room() {
            return self.refuse(stream);
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let activity = Rc::new(Cell::new(Instant::now()));
        let entry = Entry {
            connections: Rc::clone(self),
            id,
        };
        let io = Tracked {
            io: stream,
            activity: Rc::clone(&activity),
            stall: None,
        };
        let service = Rc::clone(service);
        let task = tokio::task::spawn_local(async move {
            let _entry = entry;
            if service.call((io, Some(peer))).await.is_err() {
                tracing::debug!("an HTTP connection ended with an error");
            }
        });
        self.open.borrow_mut().insert(
            id,
            Open {
                activity,
                task: task.abort_handle(),
            },
        );
    }

    /// Closes the connection quiet for longest (at least [`QUIET`]); false when every
    /// connection wrote recently.
    fn make_room(&self) -> bool {
        let now = Instant::now();
        let victim = self
            .open
            .borrow()
            .iter()
            .filter(|(_, open)| now.duration_since(open.activity.get()) >= QUIET)
            .min_by_key(|(_, open)| open.activity.get())
            .map(|(id, _)| *id);
        let Some(id) = victim else {
            return false;
        };
        let removed = self.open.borrow_mut().remove(&id);
        if let Some(open) = removed {
            open.task.abort();
        }
        true
    }

    /// A 503 with `Retry-After`, written without waiting on the client for long.
    fn refuse(self: &Rc<Self>, mut stream: TcpStream) {
        if self.refusing.get() >= self.max_refusing {
            return;
        }
        self.refusing.set(self.refusing.get() + 1);
        let refusing = Refusing(Rc::clone(self));
        tokio::task::spawn_local(async move {
            let _refusing = refusing;
            let body = "too many connections; retry later\n";
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {RETRY_AFTER_SECS}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout(REFUSAL_TIME, async {
                stream.write_all(answer.as_bytes()).await?;
                stream.shutdown().await?;
                // Reads what the client sent (some of it), so that closing does not
                // reset the connection before the client has read the answer.
                let mut sink = [0u8; 4096];
                for _ in 0..16 {
                    if stream.read(&mut sink).await? == 0 {
                        break;
                    }
                }
                io::Result::Ok(())
            })
            .await;
        });
    }
}

/// A connection's socket that records when it last wrote and fails a write that has
/// made no progress for [`WRITE_STALL`] (a client that reads nothing).
pub(super) struct Tracked {
    io: TcpStream,
    activity: Rc<Cell<Instant>>,
    stall: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => {
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
                if stall.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing for too long",
                    )));
                }
                Poll::Pending
            }
            done => {
                this.stall = None;
                if matches!(done, Poll::Ready(Ok(n)) if n > 0) {
                    this.activity.set(Instant::now());
                }
                done
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Read};

    use super::*;

    /// Holds each connection 30 s without writing a byte.
    struct Hold;

    impl Service<(Tracked, Option<SocketAddr>)> for Hold {
        type Response = ();
        type Error = ();
        type Future = Pin<Box<dyn Future<Output = Result<(), ()>>>>;

        actix_service::always_ready!();

        fn call(&self, (io, _): (Tracked, Option<SocketAddr>)) -> Self::Future {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(io);
                Ok(())
            })
        }
    }

    /// Whether the server closed `stream` (end of file) within `limit`.
    fn closed(stream: &mut std::net::TcpStream, limit: Duration) -> bool {
        stream.set_read_timeout(Some(limit)).unwrap();
        match stream.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Ok(_) | Err(_) => true,
        }
    }

    #[test]
    fn a_write_the_client_never_reads_fails_after_the_write_stall() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut tracked = Tracked {
                io: server,
                activity: Rc::new(Cell::new(Instant::now())),
                stall: None,
            };
            let chunk = vec![0u8; 64 * 1024];
            let started = tokio::time::Instant::now();
            let mut written = 0;
            let writes = async {
                loop {
                    match tracked.write(&chunk).await {
                        Ok(n) => written += n,
                        Err(err) => break err,
                    }
                    assert!(written < 1 << 30, "a gigabyte written to a silent client");
                }
            };
            // Paused time: a write that never fails ends here instead of hanging.
            let err = tokio::time::timeout(WRITE_STALL * 3, writes)
                .await
                .expect("the stalled write never failed");
            assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
            assert!(started.elapsed() >= WRITE_STALL, "{:?}", started.elapsed());
            assert!(
                started.elapsed() < WRITE_STALL * 2,
                "{:?}",
                started.elapsed()
            );
            drop(client);
        });
    }

    #[test]
    fn above_the_cap_the_quietest_connection_makes_room_else_the_newcomer_gets_a_503() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = std::thread::spawn(move || {
            let connect = || std::net::TcpStream::connect(addr).unwrap();
            let (mut first, mut second) = (connect(), connect());
            std::thread::sleep(Duration::from_millis(200));
            // Both held connections are younger than QUIET: no room, a 503.
            let mut third = connect();
            third
                .set_read_timeout(Some(Duration::from_secs(3)))
                .unwrap();
            let mut refusal = String::new();
            let _ = third.read_to_string(&mut refusal);
            std::thread::sleep(QUIET + Duration::from_millis(200));
            // Now both are quiet: the older one is closed for the newcomer.
            let mut fourth = connect();
            let first_closed = closed(&mut first, Duration::from_secs(2));
            let second_closed = closed(&mut second, Duration::from_millis(300));
            let fourth_closed = closed(&mut fourth, Duration::from_millis(300));
            (refusal, first_closed, second_closed, fourth_closed)
        });
        let local = tokio::task::LocalSet::new();
        let (refusal, first_closed, second_closed, fourth_closed) =
            local.block_on(&runtime, async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let connections = Connections::new(2);
                tokio::select! {
                    joined = tokio::task::spawn_blocking(move || clients.join()) => {
                        joined.unwrap().unwrap()
                    }
                    () = connections.accept(listener, Rc::new(Hold)) => unreachable!(),
                }
            });
        assert!(
            refusal.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{refusal}"
        );
        assert!(refusal.contains("\r\nRetry-After: 1\r\n"), "{refusal}");
        assert!(refusal.ends_with("too many connections; retry later\n"));
        assert!(first_closed, "the quietest connection was kept");
        assert!(!second_closed, "a second connection was closed");
        assert!(!fourth_closed, "the newcomer was not admitted");
    }
}
