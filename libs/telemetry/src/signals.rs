//! The process stop signals every Coral binary obeys.

use std::io;

use tokio::signal::unix::{SignalKind, signal};

/// Installing a signal handler failed (no tokio runtime with signals, or
/// the OS refused). The message carries the OS error, since callers only
/// add context to it.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the {signal} handler: {error}")]
pub struct SignalError {
    signal: &'static str,
    error: io::Error,
}

/// A future that resolves on SIGINT (Ctrl+C) or SIGTERM (Kubernetes stop).
/// The handlers are installed when this is called, not when it is first
/// polled: called before the port opens, a signal sent as soon as the
/// service listens is never fatal.
pub fn shutdown_signal() -> Result<impl Future<Output = ()>, SignalError> {
    let install = |kind, name| {
        signal(kind).map_err(|error| SignalError {
            signal: name,
            error,
        })
    };
    let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn resolves_on_sigterm() {
        let shutdown = shutdown_signal().expect("handlers");
        // Once tokio handles SIGTERM it never restores the default action,
        // so this cannot stop the test process.
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(5), shutdown)
            .await
            .expect("SIGTERM resolves the future");
    }
}
