//! Builds the eBPF object (`node-agent/ebpf`) for bpfel-unknown-none with
//! aya-build and leaves it in OUT_DIR, where `src/capture.rs` embeds it.
//!
//! Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets the nested cargo use
//! `-Z build-std=core`. `AYA_BUILD_SKIP=1` skips the eBPF build (lint-only
//! jobs); the agent then refuses to start with a message saying so.

use std::path::PathBuf;

const EBPF_PACKAGE: &str = "coral-node-agent-ebpf";

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir.join("ebpf");
    if std::env::var_os("RUSTC_BOOTSTRAP").is_none() {
        // SAFETY: build scripts are single-threaded here; only the nested
        // cargo that aya-build spawns reads it.
        unsafe { std::env::set_var("RUSTC_BOOTSTRAP", "1") };
    }
    // The eBPF build uses the same pinned toolchain as the workspace.
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "1.95.0".to_owned());
    aya_build::build_ebpf(
        [aya_build::Package {
            name: EBPF_PACKAGE,
            root_dir: ebpf_dir.to_str().expect("workspace path is UTF-8"),
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&toolchain),
    )?;
    // With AYA_BUILD_SKIP there is no object: embed an empty one.
    let object = out_dir.join(EBPF_PACKAGE);
    if !object.exists() {
        std::fs::write(&object, [])?;
    }
    Ok(())
}
