//! Graceful shutdown on SIGTERM *and* SIGINT. actix-server treats SIGINT as a forced stop,
//! but Ctrl-C on a demo service (and `lab`) should drain in-flight requests like SIGTERM
//! does, so the services disable actix's own signal handling and use this instead.

use actix_web::dev::Server;
use tokio::signal::unix::{SignalKind, signal};

/// Runs `server` (built with `disable_signals()`) until it stops; on SIGTERM or SIGINT
/// it stops gracefully: no new connections, in-flight requests finish, bounded by the
/// server's `shutdown_timeout`.
pub async fn run_until_signalled(server: Server) -> std::io::Result<()> {
    // Register before serving so that a signal arriving right after start is not lost.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down gracefully");
        handle.stop(true).await;
    });
    server.await
}
