//! `coral-discovery` binary: flags, logs, signals.

use anyhow::{Context, Result};
use clap::Parser;
use coral_discovery::Config;

#[tokio::main]
async fn main() -> Result<()> {
    let config = Config::parse();
    coral_logging::init(config.log_level, config.log_format);
    let shutdown = coral_connect::shutdown_signal().context("cannot handle SIGINT/SIGTERM")?;
    coral_discovery::run(config, shutdown).await?;
    Ok(())
}
