//! Process stop signals for the servers built on this crate.

use std::io;

use tokio::signal::unix::{SignalKind, signal};

/// A future that resolves on SIGINT (Ctrl+C) or SIGTERM (Kubernetes stop),
/// to pass to [`crate::serve`]. The handlers are installed when this is
/// called, before the port opens, so a signal sent as soon as the service
/// listens is never fatal.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}
