//! The Helm chart's gates in `cargo xtask test`: `helm lint --strict` with
//! the default values and with every `charts/coral/ci/*-values.yaml`, and a
//! server-side dry run of every object those values render (CRDs included)
//! against the local apiserver, so each object is checked against the
//! cluster's real OpenAPI schema and admission.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{manifests, paths, process};

/// `charts/coral/ci/*-values.yaml`, sorted (the chart-testing convention).
pub fn ci_values() -> Result<Vec<PathBuf>> {
    let dir = paths::workspace_root().join(manifests::CHART).join("ci");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-values.yaml"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every values set the gates cover: the defaults, then each CI file.
fn values_sets() -> Result<Vec<Vec<PathBuf>>> {
    let mut sets = vec![Vec::new()];
    sets.extend(ci_values()?.into_iter().map(|file| vec![file]));
    Ok(sets)
}

pub fn lint(helm: &Path) -> Result<()> {
    for values in values_sets()? {
        let mut cmd = Command::new(helm);
        cmd.current_dir(paths::workspace_root())
            .args(["lint", "--strict", manifests::CHART]);
        for file in &values {
            cmd.arg("--values").arg(file);
        }
        process::run(&mut cmd).context("helm lint --strict found problems in the chart")?;
    }
    Ok(())
}

/// Renders each values set into a scratch namespace and has the apiserver
/// validate every object (`kubectl apply --server-side --dry-run=server`);
/// nothing is persisted. The scratch namespace is removed afterwards.
pub fn validate_on_cluster(bin_dir: &Path, kubeconfig: &Path) -> Result<()> {
    let kubectl = || {
        let mut cmd = Command::new(bin_dir.join("kubectl"));
        cmd.env("KUBECONFIG", kubeconfig)
            .arg("--request-timeout=30s");
        cmd
    };
    let namespace = format!("coral-chart-check-{}", std::process::id());
    process::output(kubectl().args(["create", "namespace", &namespace]))?;
    let result = (|| {
        for values in values_sets()? {
            let what = match values.first() {
                Some(file) => file.display().to_string(),
                None => "default values".to_string(),
            };
            let rendered = manifests::template(
                &bin_dir.join("helm"),
                "coral-check",
                &namespace,
                &values,
                true,
            )?;
            process::run_with_stdin(
                kubectl().args([
                    "apply",
                    "--server-side",
                    "--dry-run=server",
                    // Unknown or duplicate fields are errors, not warnings.
                    "--validate=strict",
                    // Only a dry run: never fight the CRDs' real managers.
                    "--force-conflicts",
                    "--field-manager=coral-chart-check",
                    "-f",
                    "-",
                ]),
                &rendered,
            )
            .with_context(|| {
                format!("the apiserver rejected an object the chart renders with {what}")
            })?;
            eprintln!(
                "xtask: {} objects rendered with {what} pass server-side validation",
                rendered.matches("\nkind: ").count()
            );
        }
        Ok(())
    })();
    let _ = process::output(kubectl().args(["delete", "namespace", &namespace, "--wait=false"]));
    result
}
