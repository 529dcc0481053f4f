//! `cargo xtask bench agent`: builds the node-agent's overhead driver
//! (`node-agent/examples/connection_rate.rs`) in release mode and runs it
//! (needs root). It makes short TCP connections between two network
//! namespaces in alternating rounds — no program, the flow program, an empty
//! sock_ops program — and prints the median rate ratios and how many
//! connections the agent counted against how many were made.

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
            .args(["--example", "connection_rate"]),
    )
    .context("building the node-agent benchmark failed")?;
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
