//! Load generator behind `cargo xtask bench discovery`: starts the
//! `coral-discovery` binary, registers N colonies over gRPC (the
//! registrations/s figure), then measures LookupColony over HTTP/2 and
//! prints lookups/s and latency percentiles beside the targets.
//!
//! The lookup load comes from h2load (see `h2load.rs`): gRPC, and Connect
//! GET covering every id. `--loads tonic` adds an in-process tonic client
//! for comparison; it competes harder with the server for the cores.

mod counters;
mod h2load;
mod register;
mod server;
mod stats;
mod tonic_load;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

use crate::counters::LookupCounts;
use crate::h2load::H2load;
use crate::server::ServerProcess;
use crate::stats::{Measurement, TARGET_LOOKUPS_PER_SECOND, TARGET_P99_MS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Load {
    /// gRPC LookupColony from h2load.
    Grpc,
    /// Connect-JSON GET LookupColony from h2load, every id in turn.
    Connect,
    /// gRPC LookupColony from tonic clients in this process.
    Tonic,
}

#[derive(Parser)]
struct Args {
    /// The server binary (default: `coral-discovery` next to this example's directory).
    #[arg(long)]
    server: Option<PathBuf>,
    /// The h2load binary.
    #[arg(long, default_value = "h2load")]
    h2load: PathBuf,
    /// Live colonies registered before measuring lookups.
    #[arg(long, default_value_t = 10_000)]
    colonies: usize,
    /// Concurrent registrations in flight.
    #[arg(long, default_value_t = 32)]
    register_concurrency: usize,
    /// Lookup loads to measure, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "grpc,connect"
    )]
    loads: Vec<Load>,
    /// HTTP/2 connections of a lookup load.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Concurrent lookups in flight per connection.
    #[arg(long, default_value_t = 8)]
    streams: usize,
    /// gRPC h2load runs (one id each) sharing the measured seconds.
    #[arg(long, default_value_t = 4)]
    grpc_runs: usize,
    /// Measured seconds of each lookup load (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The server's `--connection-threads`; repeat to compare settings in
    /// one run (each gets its own server). Default: the server's default.
    #[arg(long)]
    connection_threads: Vec<u16>,
}

/// A scratch directory removed when the benchmark ends.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("coral-discovery-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server_binary(args: &Args) -> Result<PathBuf> {
    match &args.server {
        Some(path) => Ok(path.clone()),
        None => Ok(std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .context("cannot locate the target directory")?
            .join("coral-discovery")),
    }
}

async fn run(args: Args) -> Result<()> {
    let binary = server_binary(&args)?;
    let scratch = ScratchDir::create()?;
    let h2load = H2load {
        binary: args.h2load.clone(),
        connections: args.connections,
        streams: args.streams,
        dir: scratch.0.clone(),
    };
    let settings: Vec<Option<u16>> = if args.connection_threads.is_empty() {
        vec![None]
    } else {
        args.connection_threads.iter().copied().map(Some).collect()
    };
    let mut summary = Vec::new();
    for threads in settings {
        let label = threads.map_or("default".to_owned(), |n| n.to_string());
        println!("\n--connection-threads {label}");
        for measurement in measure(&binary, threads, &h2load, &args).await? {
            summary.push((label.clone(), measurement));
        }
    }
    println!(
        "\nsummary, {} live colonies (targets: >= {TARGET_LOOKUPS_PER_SECOND:.0} lookups/s, p99 < {TARGET_P99_MS} ms)",
        args.colonies
    );
    for (threads, m) in &summary {
        println!(
            "  --connection-threads {threads:<3} {:<48} {:>7.0} lookups/s  p50 {:.3} ms  p99 {:.3} ms  {}",
            m.label,
            m.lookups_per_second(),
            m.percentile_ms(0.5),
            m.percentile_ms(0.99),
            if m.meets_targets() { "met" } else { "MISSED" },
        );
    }
    Ok(())
}

/// One server with one setting: registrations, then each lookup load.
async fn measure(
    binary: &Path,
    threads: Option<u16>,
    h2load: &H2load,
    args: &Args,
) -> Result<Vec<Measurement>> {
    let server = ServerProcess::start(binary, threads)?;
    println!("coral-discovery at {} ({})", server.addr, binary.display());

    let took =
        register::register_all(&server.addr, args.colonies, args.register_concurrency).await?;
    println!(
        "  registrations/s {:>7.0}   ({} colonies in {:.2} s, {} in flight, gRPC from tonic)",
        args.colonies as f64 / took.as_secs_f64(),
        args.colonies,
        took.as_secs_f64(),
        args.register_concurrency
    );

    let seconds = args.seconds.max(1);
    let mut measurements = Vec::new();
    for load in &args.loads {
        let before = LookupCounts::read(&server.addr)?;
        let measurement = match load {
            Load::Grpc => h2load.grpc(&server, args.colonies, args.grpc_runs, seconds as f64)?,
            Load::Connect => h2load.connect_get(&server, args.colonies, seconds as f64)?,
            Load::Tonic => {
                tonic_load::measure(
                    &server,
                    args.colonies,
                    args.connections,
                    args.streams,
                    seconds,
                )
                .await?
            }
        };
        LookupCounts::read(&server.addr)?
            .check_since(&before, measurement.latencies_us.len())
            .with_context(|| format!("lookups ({})", measurement.label))?;
        measurement.print();
        measurements.push(measurement);
    }
    Ok(measurements)
}

fn main() -> Result<()> {
    let args = Args::parse();
    // One thread: the tonic load shares the cores with the server, and a
    // single-threaded client costs the least per request.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}
