//! Tools the tests need that cargo does not fetch by itself, installed only
//! when missing so a second `cargo xtask test` costs nothing.

use std::process::Command;

use anyhow::{Context, Result};

use crate::{paths, process};

/// The node-agent's eBPF crate is linked by bpf-linker. 0.10.4 is the last
/// release that uses rustc's own LLVM (later ones want a system libLLVM);
/// see ../shared/notes/ebpf.md.
const BPF_LINKER_VERSION: &str = "0.10.4";

pub fn ensure_test_prerequisites() -> Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()
}

/// `-Z build-std=core` for bpfel-unknown-none needs the standard library
/// sources. rust-toolchain.toml lists the component, but rustup only adds
/// listed components when it installs the toolchain, not to one already there.
fn ensure_rust_src() -> Result<()> {
    process::run(
        Command::new("rustup")
            .current_dir(paths::workspace_root())
            .args(["component", "add", "rust-src"]),
    )
    .context("installing rust-src (needed to build the node-agent's eBPF program)")
}

fn ensure_bpf_linker() -> Result<()> {
    let installed = process::output(Command::new("bpf-linker").arg("--version")).ok();
    if installed
        .as_deref()
        .is_some_and(|v| v.split_whitespace().nth(1) == Some(BPF_LINKER_VERSION))
    {
        return Ok(());
    }
    eprintln!("xtask: installing bpf-linker {BPF_LINKER_VERSION} (builds the eBPF programs)");
    process::run(Command::new("cargo").args([
        "install",
        "bpf-linker",
        "--version",
        BPF_LINKER_VERSION,
        "--locked",
    ]))
    .context("cargo install bpf-linker failed; the node-agent cannot be built without it")
}
