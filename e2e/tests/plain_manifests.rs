//! The plain manifests (the chart rendered with `helm template
//! --include-crds`, as `cargo xtask manifests` writes deploy/coral.yaml)
//! applied twice with server-side apply: the second apply writes nothing
//! (no object's generation, or resourceVersion for objects without one,
//! changes, and our field manager's apply time stays) and
//! `kubectl diff --server-side` finds no difference. Rendered for a fresh namespace and release name so that it
//! never touches another installation on the shared cluster.

mod chart_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chart_support::{command, outcome, run, template};
use coral_e2e::{client, unique_namespace};

const MANAGER: &str = "coral-e2e-manifests";

struct Cleanup {
    objects: PathBuf,
    all: PathBuf,
    namespace: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Cluster-scoped RBAC objects first (not the shared CRDs), then the namespace.
        if let Ok(mut kubectl) = command("kubectl") {
            let _ = kubectl
                .args(["delete", "--ignore-not-found", "--wait=false", "-f"])
                .arg(&self.objects)
                .output();
        }
        if let Ok(mut kubectl) = command("kubectl") {
            let _ = kubectl
                .args(["delete", "namespace", &self.namespace, "--wait=false"])
                .output();
        }
        let _ = std::fs::remove_file(&self.objects);
        let _ = std::fs::remove_file(&self.all);
    }
}

fn render(release: &str, namespace: &str, include_crds: bool) -> Result<String> {
    let extra: &[&str] = if include_crds {
        &["--include-crds"]
    } else {
        &[]
    };
    let out = template(release, namespace, &[], extra)?;
    if !out.status.success() {
        bail!(
            "helm template failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// "kind/namespace/name" → what a write would change: the generation (or the
/// resourceVersion of objects without one; controllers update status and
/// annotations of the others, which bumps their resourceVersion) and the
/// time of our field manager's last apply.
fn fingerprints(file: &PathBuf) -> Result<BTreeMap<String, String>> {
    let json = run(command("kubectl")?
        .args(["get", "-o", "json", "-f"])
        .arg(file))?;
    let list: serde_json::Value = serde_json::from_str(&json)?;
    let items = list["items"]
        .as_array()
        .context("kubectl get -f: no items")?;
    Ok(items
        .iter()
        .map(|item| {
            let meta = &item["metadata"];
            (
                format!(
                    "{}/{}/{}",
                    item["kind"].as_str().unwrap_or_default(),
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default()
                ),
                {
                    let version = match meta["generation"].as_i64() {
                        Some(generation) => format!("generation {generation}"),
                        None => format!("resourceVersion {}", meta["resourceVersion"]),
                    };
                    let applied = meta["managedFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|f| f["manager"] == MANAGER && f["operation"] == "Apply")
                        .map(|f| f["time"].to_string())
                        .unwrap_or_else(|| "never".into());
                    format!("{version}, applied {applied}")
                },
            )
        })
        .collect())
}

#[tokio::test]
async fn server_side_apply_twice_changes_nothing_the_second_time() -> Result<()> {
    let client = client().await?;
    let namespace = unique_namespace(&client, "manifests").await?;
    let release = format!("coral-ssa-{}", std::process::id());
    let dir = std::env::temp_dir();
    let cleanup = Cleanup {
        objects: dir.join(format!("{release}-objects.yaml")),
        all: dir.join(format!("{release}.yaml")),
        namespace: namespace.clone(),
    };
    std::fs::write(&cleanup.all, render(&release, &namespace, true)?)?;
    std::fs::write(&cleanup.objects, render(&release, &namespace, false)?)?;

    let apply = || -> Result<String> {
        run(command("kubectl")?
            .args([
                "apply",
                "--server-side",
                &format!("--field-manager={MANAGER}"),
                "-f",
            ])
            .arg(&cleanup.all))
    };
    let first = apply()?;
    assert!(
        first.contains("customresourcedefinition.apiextensions.k8s.io/colonies.coral.io"),
        "{first}"
    );
    assert!(
        first.contains(&format!("deployment.apps/{release}-operator")),
        "{first}"
    );
    let before = fingerprints(&cleanup.all)?;
    assert!(before.len() >= 14, "objects applied: {before:?}");

    // Managed-field times have one-second resolution.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    apply()?;
    let after = fingerprints(&cleanup.all)?;
    assert_eq!(
        before, after,
        "the second server-side apply changed objects"
    );

    let diff = outcome(
        command("kubectl")?
            .args([
                "diff",
                "--server-side",
                &format!("--field-manager={MANAGER}"),
                "-f",
            ])
            .arg(&cleanup.all),
    )?;
    assert_eq!(
        diff.status.code(),
        Some(0),
        "kubectl diff --server-side found differences after apply:\n{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    drop(cleanup);
    Ok(())
}
