//! `cargo xtask …`: everything a developer or CI runs that is more than one
//! cargo command. Each subcommand lives in its own module.

mod bench;
mod cargo;
mod chart_check;
mod cluster;
mod crdgen;
mod demo;
mod demo_local;
mod install;
mod manifests;
mod paths;
mod process;
mod release_files;
mod test;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Coral project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A real local Kubernetes control plane (apiserver, etcd, controller-manager, scheduler, kwok).
    Cluster {
        #[command(subcommand)]
        action: cluster::Action,
    },
    /// Regenerate CRD YAML into crds/ and charts/coral/crds/ (`--check` fails on drift).
    Crdgen {
        #[arg(long)]
        check: bool,
    },
    /// Render charts/coral into plain manifests, deploy/coral.yaml (`--check` fails on drift).
    Manifests {
        #[arg(long)]
        check: bool,
    },
    /// The main job: local cluster, CRDs, operator and the demo app.
    Demo(demo::Args),
    /// Run every quality gate and test; installs what the tests need first.
    Test(test::Args),
    /// Benchmarks that print their figures.
    Bench {
        #[command(subcommand)]
        target: bench::Target,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Cluster { action } => cluster::run(action),
        Command::Crdgen { check } => crdgen::run(check),
        Command::Manifests { check } => manifests::run(check),
        Command::Demo(args) => demo::run(args),
        Command::Test(args) => test::run(args),
        Command::Bench { target } => bench::run(target),
    }
}
