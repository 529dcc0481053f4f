//! `cargo xtask bench agent`: builds the node-agent's overhead driver
//! (`node-agent/examples/connection_rate/`) and the `coral-node-agent` and
//! `coral-colony` binaries it runs, in release mode, and runs it (needs
//! root). It makes short TCP connections between two network namespaces in
//! alternating rounds — no program, the flow program alone, the flow program
//! keying connects by process (as host mode does in its own namespace), an
//! empty sock_ops program, the agent binary reporting to a colony — and
//! prints the median rate ratios, each program's kernel time per
//! connection, connections counted against made, the agent's CPU per 1,000
//! connections/s, its peak RSS with 10,000 live flows and the time from a
//! connection to `GetTopology`, each with its target.

use std::process::Command;

use anyhow::{Context, Result};

use crate::{install, paths, process};

#[derive(clap::Args)]
pub struct Args {
    /// Rounds; each round runs every mode once.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds of connections per mode and round.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

pub fn run(args: Args) -> Result<()> {
    install::ensure_test_prerequisites()?;
    process::run(
        crate::cargo::command()
            .args(["build", "--release", "-p", "coral-node-agent"])
            .args(["--bin", "coral-node-agent", "--example", "connection_rate"]),
    )
    .context("building the node-agent benchmark failed")?;
    // The driver finds both binaries beside its own release directory.
    process::run(crate::cargo::command().args([
        "build",
        "--release",
        "-p",
        "coral-colony",
        "--bin",
        "coral-colony",
    ]))
    .context("building the colony for the node-agent benchmark failed")?;
    let driver = paths::cargo_target_dir()
        .join("release")
        .join("examples")
        .join("connection_rate");
    process::run(
        Command::new(driver)
            .arg(args.rounds.to_string())
            .arg(args.seconds.to_string()),
    )
}
