//! `coral-discovery` binary: flags, logs, signals.

use anyhow::{Context, Result};
use clap::Parser;
use coral_discovery::{Config, logging};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Resolves on SIGINT (Ctrl+C) or SIGTERM (Kubernetes stop). The handlers
/// are installed by the caller before the port opens, so a signal sent as
/// soon as the service is listening is never fatal.
async fn shutdown_signal(mut interrupt: Signal, mut terminate: Signal) {
    tokio::select! {
        _ = interrupt.recv() => {},
        _ = terminate.recv() => {},
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::parse();
    logging::init(config.log_level, config.log_format);
    let interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    coral_discovery::run(config, shutdown_signal(interrupt, terminate)).await?;
    Ok(())
}
