//! `coral-discovery` binary: flags, logs, signals.

use anyhow::{Context, Result};
use clap::Parser;
use coral_discovery::Config;

// A lookup allocates and frees dozens of small buffers across hyper, h2 and
// tonic; glibc's malloc spent about a sixth of the server's CPU on them in
// `cargo xtask bench discovery`, mimalloc much less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let config = Config::parse();
    coral_telemetry::init(config.log_level, config.log_format);
    // With connection threads, this runtime only accepts and runs the
    // cleanup timer; without them it serves the connections too.
    let runtime = if config.connection_threads() > 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let shutdown =
            coral_telemetry::shutdown_signal().context("cannot handle SIGINT/SIGTERM")?;
        coral_discovery::run(config, shutdown).await?;
        Ok(())
    })
}
