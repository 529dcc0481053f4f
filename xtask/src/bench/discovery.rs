//! `cargo xtask bench discovery`: installs h2load when missing, builds
//! `coral-discovery` and its load generator
//! (`discovery/examples/discovery_bench/`) in release mode and runs it. The
//! generator starts the server on a free loopback port, registers the
//! colonies over gRPC (registrations/s), drives LookupColony over HTTP/2
//! with h2load, prints lookups/s, p50 and p99 beside the targets, and stops
//! the server.
//!
//! h2load rather than the earlier tonic client: on a 2-core machine the load
//! generator shares the cores with the server, and the tonic client spent
//! about as much CPU per lookup as the server, so it measured itself as much
//! as the server. h2load is one C thread (`-t 1`) at a fraction of that
//! cost; the tonic figures remain available with `--loads grpc,tonic`.

use anyhow::{Context, Result, bail};

use crate::cargo::command as cargo;

#[derive(clap::Args)]
pub struct Args {
    /// Live colonies registered before lookups are measured.
    #[arg(long, default_value_t = 10_000)]
    colonies: usize,
    /// HTTP/2 connections used for lookups.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Concurrent lookups in flight per connection.
    #[arg(long, default_value_t = 8)]
    streams: usize,
    /// Measured seconds of each lookup load.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Lookup loads: grpc and connect (h2load), tonic (in-process client).
    #[arg(long, default_value = "grpc,connect")]
    loads: String,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn run(args: Args) -> Result<()> {
    crate::install::ensure_h2load()?;
    let build = cargo()
        .args(["build", "--release", "-p", "coral-discovery"])
        .args(["--bin", "coral-discovery", "--example", "discovery_bench"])
        .status()
        .context("could not start cargo build")?;
    if !build.success() {
        bail!("building coral-discovery in release mode failed ({build})");
    }
    // The server's default first (one connection thread per core, as
    // deployed); then one thread per core h2load leaves free, so client and
    // server do not take turns on a core.
    let mut threads = vec![cores()];
    if cores() > 1 {
        threads.push(cores() - 1);
    }
    let mut run = cargo();
    run.args(["run", "--quiet", "--release", "-p", "coral-discovery"])
        .args(["--example", "discovery_bench", "--"])
        .args(["--colonies", &args.colonies.to_string()])
        .args(["--connections", &args.connections.to_string()])
        .args(["--streams", &args.streams.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--loads", &args.loads]);
    for threads in threads {
        run.args(["--connection-threads", &threads.to_string()]);
    }
    let status = run
        .status()
        .context("could not start the discovery load generator")?;
    if !status.success() {
        bail!("the discovery benchmark failed ({status})");
    }
    Ok(())
}
