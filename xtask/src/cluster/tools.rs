//! The control-plane binaries, built from the pinned Go module in
//! `xtask/cluster-tools` and cached outside the checkout, keyed by a hash of
//! that module, so they are built once per version.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{paths, process};

/// Binary name and the Go package it is built from.
pub const TOOLS: &[(&str, &str)] = &[
    ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
    (
        "kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
    ),
    ("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"),
    ("kubectl", "k8s.io/kubernetes/cmd/kubectl"),
    ("etcd", "./cmd/etcd"),
    ("kwok", "sigs.k8s.io/kwok/cmd/kwok"),
    ("helm", "helm.sh/helm/v3/cmd/helm"),
    ("kwok-stages", "./cmd/kwok-stages"),
];

/// The Kubernetes release the module pins; stamped into the binaries so
/// clients (kubectl, helm, kube-rs) see a real version, not v0.0.0.
pub const KUBERNETES_VERSION: (&str, &str, &str) = ("v1.37.2", "1", "37");

fn ldflags() -> String {
    let (version, major, minor) = KUBERNETES_VERSION;
    let mut flags = String::from("-s -w");
    for package in [
        "k8s.io/component-base/version",
        "k8s.io/client-go/pkg/version",
    ] {
        flags.push_str(&format!(
            " -X {package}.gitVersion={version} -X {package}.gitMajor={major} -X {package}.gitMinor={minor} -X {package}.gitTreeState=clean"
        ));
    }
    flags
}

fn module_dir() -> PathBuf {
    paths::workspace_root().join("xtask").join("cluster-tools")
}

/// The cache directory for the current module contents.
pub fn bin_dir() -> Result<PathBuf> {
    let module = module_dir();
    let mut hash = Fnv64::default();
    hash.write(ldflags().as_bytes());
    for file in [
        "go.mod",
        "go.sum",
        "cmd/etcd/main.go",
        "cmd/kwok-stages/main.go",
    ] {
        let path = module.join(file);
        hash.write(file.as_bytes());
        hash.write(&fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(paths::cache_dir()
        .join("cluster-tools")
        .join(format!("{:016x}", hash.0))
        .join("bin"))
}

/// Serializes builds within this process: a second caller waits for the
/// first build and then finds the binaries, instead of building them again
/// into the same scratch dir.
static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds any missing binary; returns the directory holding all of them.
pub fn ensure_built() -> Result<PathBuf> {
    let _one_build_at_a_time = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let bin = bin_dir()?;
    let missing: Vec<_> = TOOLS
        .iter()
        .filter(|(name, _)| !bin.join(name).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(bin);
    }
    if !process::on_path("go") {
        bail!(
            "the local cluster is built from Go modules, but `go` is not on PATH; install Go 1.26 or newer and retry"
        );
    }
    let names: Vec<_> = missing.iter().map(|(name, _)| *name).collect();
    eprintln!(
        "xtask: building {} from xtask/cluster-tools (once per version; a cold build takes 20-40 minutes on 2 cores)",
        names.join(", ")
    );
    // Build into a scratch dir and move into place, so an interrupted build
    // never leaves a half-written binary that looks cached.
    let scratch = bin.with_file_name("bin.partial");
    fs::create_dir_all(&scratch)?;
    let mut cmd = Command::new("go");
    cmd.current_dir(module_dir())
        .args(["build", "-trimpath"])
        .arg(format!("-ldflags={}", ldflags()))
        .arg("-o")
        .arg(&scratch)
        .args(missing.iter().map(|(_, package)| *package))
        .env("GOTOOLCHAIN", "local");
    process::run(&mut cmd).context(
        "building the local cluster's binaries failed; the Go module proxy must be reachable for the first build",
    )?;
    fs::create_dir_all(&bin)?;
    for (name, _) in &missing {
        move_file(&scratch.join(name), &bin.join(name))?;
    }
    Ok(bin)
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

/// FNV-1a: a stable hash for the cache key (std's hasher may change between
/// Rust releases).
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
