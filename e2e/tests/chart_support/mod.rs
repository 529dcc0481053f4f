//! Shared by the chart tests: the helm and kubectl binaries of the local
//! cluster, the chart's path, and running them with errors that carry their
//! output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};

/// The repository root (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e sits inside the workspace")
        .to_path_buf()
}

pub fn chart_dir() -> PathBuf {
    workspace_root().join("charts").join("coral")
}

/// `name` from PATH (`cargo xtask test` and `cargo xtask cluster env` put the
/// cluster's tools first), else from the tools directory the running local
/// cluster recorded.
pub fn tool(name: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let record = coral_e2e::kubeconfig_path().with_file_name("bin-dir");
    let dir = std::fs::read_to_string(&record).with_context(|| {
        format!(
            "`{name}` is not on PATH and {} does not exist; run `eval \"$(cargo xtask cluster env)\"` (cargo xtask test does it for you)",
            record.display()
        )
    })?;
    let candidate = PathBuf::from(dir.trim()).join(name);
    if !candidate.is_file() {
        bail!(
            "{} does not exist; run `cargo xtask cluster up`",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// helm or kubectl pointed at the local cluster's kubeconfig.
pub fn command(name: &str) -> Result<Command> {
    let mut cmd = Command::new(tool(name)?);
    cmd.env("KUBECONFIG", coral_e2e::kubeconfig_path())
        .current_dir(workspace_root());
    Ok(cmd)
}

/// Runs `cmd`; the outcome, whether it succeeded or not.
pub fn outcome(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("could not start {:?}", cmd.get_program()))
}

/// Runs `cmd`, failing with its stderr when it exits non-zero; returns stdout.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = outcome(cmd)?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed ({}):\n{}{}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Kubernetes version the local cluster runs (our helm is built without
/// version stamps and would assume 1.20 for `helm template`).
pub const KUBE_VERSION: &str = "v1.37.2";

/// `helm template` of the chart with `--set` pairs; the outcome unchecked.
pub fn template(release: &str, namespace: &str, sets: &[&str], extra: &[&str]) -> Result<Output> {
    let mut cmd = command("helm")?;
    cmd.arg("template").arg(release).arg(chart_dir()).args([
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ]);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd.args(extra);
    outcome(&mut cmd)
}
