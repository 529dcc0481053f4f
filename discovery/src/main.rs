//! `coral-discovery` binary: flags, logs, signals.

use anyhow::Result;
use clap::Parser;
use coral_discovery::{Config, logging};

/// Resolves on SIGINT (Ctrl+C) or SIGTERM (Kubernetes stop).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl+C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::parse();
    logging::init(config.log_level, config.log_format);
    coral_discovery::run(config, shutdown_signal()).await?;
    Ok(())
}
