//! `coral-colony` binary: flags, logs, signals.

use anyhow::{Context, Result};
use coral_colony::ColonyFlags;

// Ingest allocates and frees many small buffers per batch (decoding,
// rollup, DuckDB's appender); glibc's malloc with its arena locks cost
// about a quarter of the ingest time in `cargo xtask bench colony`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let (flags, settings) = ColonyFlags::load()?;
    coral_telemetry::init(flags.log_level, flags.log_format);
    let shutdown = coral_telemetry::shutdown_signal().context("cannot handle SIGINT/SIGTERM")?;
    if let Err(error) = coral_colony::run(settings, shutdown).await {
        tracing::error!(%error, "Colony failed");
        return Err(error.into());
    }
    Ok(())
}
