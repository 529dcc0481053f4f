//! `cargo xtask test`: the one command CI runs. It installs what the tests
//! need, runs every quality gate, brings up the local cluster for the e2e
//! tests and takes it down again if it started it.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::{chart_check, cluster, crdgen, manifests, process};

#[derive(clap::Args)]
pub struct Args {
    /// Leave the cluster running afterwards (for a quick re-run).
    #[arg(long)]
    keep_cluster: bool,
}

pub fn run(args: Args) -> Result<()> {
    crate::install::ensure_test_prerequisites()?;
    let started = Instant::now();
    // The cluster's Go tools (a 15-20 minute cold build, instant when cached)
    // build beside clippy and the test build, filling the cores those leave
    // idle while they link or wait on one crate.
    let cluster_tools = std::thread::spawn(cluster::tools::ensure_built);

    let gates = static_checks_and_test_build();
    // Wait for the Go build even when a gate failed, so no `go build` outlives
    // this command.
    let tools = cluster_tools
        .join()
        .map_err(|_| anyhow::anyhow!("building the cluster tools panicked"))?;
    gates?;
    let tools = tools?;

    // Both render the chart with the helm just built.
    step("generated manifests are up to date");
    manifests::run(true)?;
    step("helm lint --strict");
    chart_check::lint(&tools.join("helm"))?;

    step("local cluster");
    let cluster = cluster::up(&cluster::state_dir())?;

    step("chart objects pass server-side validation");
    let validated = chart_check::validate_on_cluster(&cluster.bin_dir, &cluster.kubeconfig);
    if validated.is_err() && cluster.started_now && !args.keep_cluster {
        let _ = cluster::run(cluster::Action::Down);
    }
    validated?;

    step("cargo test");
    let mut test = crate::cargo::command();
    test.args(["test", "--workspace"]);
    // The same compiler as the build above, so nothing is rebuilt.
    with_clippy(&mut test)?;
    test.env("KUBECONFIG", &cluster.kubeconfig).env(
        "PATH",
        prepend_path(&cluster.bin_dir).context("PATH is not valid unicode")?,
    );
    let result = process::run(&mut test);

    if cluster.started_now && !args.keep_cluster {
        step("local cluster down");
        cluster::run(cluster::Action::Down)?;
    }
    result?;
    eprintln!(
        "\nxtask: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Formatting, CRD drift, and the test build with clippy's lints: nothing
/// that needs the cluster tools.
fn static_checks_and_test_build() -> Result<()> {
    let cargo = crate::cargo::command;
    step("cargo fmt --check");
    process::run(cargo().args(["fmt", "--all", "--check"]))
        .context("formatting differs; run `cargo fmt --all`")?;

    step("generated CRDs are up to date");
    crdgen::run(true)?;

    // Clippy's lints run while the tests build, with clippy-driver as the
    // compiler of the workspace's own crates (what `cargo clippy` does, in
    // check mode). One build then serves both: dependencies are compiled
    // once instead of type-checked for clippy and compiled again for the
    // tests, which took about a tenth of a cold run.
    step("build tests, clippy --all-targets -D warnings");
    let mut build = cargo();
    build.args(["test", "--workspace", "--all-targets", "--no-run"]);
    with_clippy(&mut build)?;
    process::run(&mut build)
        .context("the build or a clippy lint failed; `cargo clippy --workspace --all-targets` shows the same lints")?;
    Ok(())
}

/// Runs clippy-driver as the workspace crates' compiler, denying warnings
/// (the protocol `cargo clippy` itself uses to hand it its arguments).
fn with_clippy(cmd: &mut std::process::Command) -> Result<()> {
    let driver = process::output(
        std::process::Command::new("rustup")
            .current_dir(crate::paths::workspace_root())
            .args(["which", "clippy-driver"]),
    )
    .context("finding clippy-driver (rustup component add clippy)")?;
    cmd.env("RUSTC_WORKSPACE_WRAPPER", driver.trim()).env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    );
    Ok(())
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

fn prepend_path(dir: &std::path::Path) -> Option<String> {
    let old = std::env::var("PATH").unwrap_or_default();
    Some(format!("{}:{old}", dir.to_str()?))
}
