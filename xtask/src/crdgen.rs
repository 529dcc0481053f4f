//! `cargo xtask crdgen [--check]`: renders the CRD YAML from the Rust types in
//! `crds/` into `crds/*.yaml` and `charts/coral/crds/*.yaml`. With `--check`
//! nothing is written and any stale or missing file fails the run, so CI
//! catches a type change whose YAML was not regenerated.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Folders (relative to the workspace root) that receive every CRD file.
const OUTPUT_DIRS: [&str; 2] = ["crds", "charts/coral/crds"];

pub fn run(check: bool) -> Result<()> {
    let files = coral_crds::crd_files()?;
    let root = crate::paths::workspace_root();
    let mut stale = Vec::new();
    for dir in OUTPUT_DIRS {
        let dir = root.join(dir);
        if !check {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        for file in &files {
            let path = dir.join(file.file_name);
            let current = fs::read_to_string(&path).ok();
            if current.as_deref() == Some(file.yaml.as_str()) {
                continue;
            }
            if check {
                stale.push(relative(&root, path));
            } else {
                fs::write(&path, &file.yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", relative(&root, path));
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "CRD YAML is stale or missing: {}; run `cargo xtask crdgen` and commit the result",
            stale.join(", ")
        );
    }
    if check {
        println!(
            "CRD YAML is up to date ({} files in {})",
            files.len(),
            OUTPUT_DIRS.join(" and ")
        );
    }
    Ok(())
}

fn relative(root: &Path, path: PathBuf) -> String {
    path.strip_prefix(root)
        .unwrap_or(&path)
        .display()
        .to_string()
}
