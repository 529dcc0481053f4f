//! `cargo xtask bench colony`: builds the colony's benchmark
//! (`colony/examples/colony_bench.rs`) in release mode and runs it: ingest
//! rows/s and GetTopology latency over 24 hours of minute rollups, into
//! DuckDB and into a private clickhouse-server the benchmark starts
//! (installed here when missing, as `cargo xtask test` does).

use anyhow::{Context, Result, bail};

use crate::cargo::command as cargo;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 1_000)]
    workloads: u32,
    #[arg(long, default_value_t = 20_000)]
    edges: u32,
    /// Hours of minute rollups loaded before queries.
    #[arg(long, default_value_t = 24)]
    hours: u32,
    /// GetTopology calls measured.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Backends to measure: duckdb, clickhouse or both (comma-separated).
    #[arg(long, default_value = "duckdb,clickhouse")]
    backends: String,
}

pub fn run(args: Args) -> Result<()> {
    if args.backends.contains("clickhouse") {
        crate::install::ensure_clickhouse_server()?;
    }
    let status = cargo()
        .args(["run", "--release", "-p", "coral-colony"])
        .args(["--example", "colony_bench", "--"])
        .args(["--workloads", &args.workloads.to_string()])
        .args(["--edges", &args.edges.to_string()])
        .args(["--hours", &args.hours.to_string()])
        .args(["--queries", &args.queries.to_string()])
        .args(["--backends", &args.backends])
        .status()
        .context("could not start the colony benchmark")?;
    if !status.success() {
        bail!("the colony benchmark failed ({status})");
    }
    println!(
        "targets on a 2-core machine: >= 500,000 rows/s into DuckDB, GetTopology p99 <= 50 ms"
    );
    Ok(())
}
