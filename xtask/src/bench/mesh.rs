//! `cargo xtask bench mesh`: builds the mesh driver
//! (`mesh/examples/mesh_bench.rs`) in release mode and runs it (needs root).
//! It prints TCP throughput through one tunnel against the plain veth link
//! under it, as a ratio, and the handshake latency of a starting spoke.

use std::process::Command;

use anyhow::{Context, Result};

use crate::{paths, process};

#[derive(clap::Args)]
pub struct Args {
    /// Rounds; each round measures veth and tunnel once.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds of one TCP stream per measurement.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Spoke starts timed for handshake latency.
    #[arg(long, default_value_t = 10)]
    handshakes: usize,
}

pub fn run(args: Args) -> Result<()> {
    process::run(
        crate::cargo::command()
            .args(["build", "--release", "-p", "coral-mesh"])
            .args(["--example", "mesh_bench"]),
    )
    .context("building the mesh benchmark failed")?;
    let driver = paths::cargo_target_dir()
        .join("release")
        .join("examples")
        .join("mesh_bench");
    process::run(
        Command::new(driver)
            .arg(args.rounds.to_string())
            .arg(args.seconds.to_string())
            .arg(args.handshakes.to_string()),
    )
}
