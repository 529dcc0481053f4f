//! `cargo xtask bench operator`: builds `coral-operator` and its benchmark
//! driver (`operator/examples/operator_bench.rs`) in release mode and runs
//! it against the local cluster (`cargo xtask cluster up` first). The driver
//! prints time-to-Ready, resync writes and peak RSS.

use anyhow::{Context, Result, bail};

use crate::cargo::command as cargo;

#[derive(clap::Args)]
pub struct Args {
    /// Colonies created at once.
    #[arg(long, default_value_t = 50)]
    colonies: usize,
    /// Connections created at once.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
}

pub fn run(args: Args) -> Result<()> {
    let build = cargo()
        .args([
            "build",
            "--release",
            "-p",
            "coral-operator",
            "--bin",
            "coral-operator",
            "--example",
            "operator_bench",
        ])
        .status()
        .context("could not start cargo build")?;
    if !build.success() {
        bail!("building coral-operator in release mode failed ({build})");
    }
    let status = cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "coral-operator",
            "--example",
            "operator_bench",
            "--",
        ])
        .args([
            "--colonies",
            &args.colonies.to_string(),
            "--connections",
            &args.connections.to_string(),
        ])
        .status()
        .context("could not start the operator benchmark")?;
    if !status.success() {
        bail!("the operator benchmark failed ({status})");
    }
    Ok(())
}
