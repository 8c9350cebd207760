//! Whether the client of a request is still there.
//!
//! actix-web keeps a handler running after its client has closed the connection (the
//! client may only have closed its sending half), so a request that waits without bound
//! (the provider's `hang` fault, the naive consumer's call to a hanging provider) would
//! hold its socket, and a file descriptor, for ever. The server keeps a duplicate of each
//! connection's socket in the connection's data ([`on_connect`]); [`client_gone`]
//! resolves once that socket reads end-of-file or fails.

use std::any::Any;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

/// How often a waiting request looks at its connection.
const CHECK_EVERY: Duration = Duration::from_millis(200);

/// A duplicate of one connection's socket, only ever peeked at.
struct Peer(TcpStream);

/// Records the connection's socket for [`client_gone`] (`HttpServer::on_connect`).
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(fd) = stream.as_fd().try_clone_to_owned()
    {
        // The duplicate shares the original's non-blocking mode, so a peek never waits.
        data.insert(Arc::new(Peer(TcpStream::from(fd))));
    }
}

/// The answer of a request whose client left: never sent, it is for the metrics and the
/// log (499 is nginx's "client closed request").
pub fn gone_response() -> HttpResponse {
    HttpResponse::new(StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST))
}

/// Resolves once the client of `request` has closed its connection (never, for a
/// connection the server did not record).
pub async fn client_gone(request: &HttpRequest) {
    let Some(peer) = request.conn_data::<Arc<Peer>>().cloned() else {
        return std::future::pending().await;
    };
    let mut byte = [0u8; 1];
    loop {
        match peer.0.peek(&mut byte) {
            Ok(0) => return,
            // Bytes waiting (a pipelined request) or nothing yet: still there.
            Ok(_) => {}
            Err(err)
                if err.kind() == ErrorKind::WouldBlock || err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
