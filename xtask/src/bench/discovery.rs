//! `cargo xtask bench discovery`: builds `coral-discovery` and its load
//! generator (`discovery/examples/discovery_bench.rs`) in release mode and
//! runs it. The generator starts the server on a free loopback port,
//! registers the colonies, measures lookups/s and latency percentiles over
//! HTTP/2 (tonic), prints the figures, and stops the server.

use anyhow::{Context, Result, bail};

use crate::cargo::command as cargo;

#[derive(clap::Args)]
pub struct Args {
    /// Live colonies registered before lookups are measured.
    #[arg(long, default_value_t = 10_000)]
    colonies: usize,
    /// HTTP/2 connections used for lookups.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Concurrent lookups in flight per connection.
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Measured seconds of lookups.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn run(args: Args) -> Result<()> {
    let build = cargo()
        .args(["build", "--release", "-p", "coral-discovery"])
        .args(["--bin", "coral-discovery", "--example", "discovery_bench"])
        .status()
        .context("could not start cargo build")?;
    if !build.success() {
        bail!("building coral-discovery in release mode failed ({build})");
    }
    let status = cargo()
        .args(["run", "--quiet", "--release", "-p", "coral-discovery"])
        .args(["--example", "discovery_bench", "--"])
        .args(["--colonies", &args.colonies.to_string()])
        .args(["--connections", &args.connections.to_string()])
        .args(["--streams", &args.streams.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        // The shared multi-threaded runtime first, as the baseline; then
        // one single-threaded runtime per core (the server's default).
        .args(["--connection-threads", "0"])
        .args(["--connection-threads", &cores().to_string()])
        .status()
        .context("could not start the discovery load generator")?;
    if !status.success() {
        bail!("the discovery benchmark failed ({status})");
    }
    println!("targets on a 2-core machine: >= 50,000 lookups/s, p99 < 2 ms");
    Ok(())
}
