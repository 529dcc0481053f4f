//! Tools the tests need that cargo does not fetch by itself, installed only
//! when missing so a second `cargo xtask test` costs nothing.

use std::process::Command;

use anyhow::{Context, Result};

use crate::{paths, process};

/// The node-agent's eBPF crate is linked by bpf-linker. 0.10.4 is the last
/// release that uses rustc's own LLVM by default and so needs nothing else
/// installed (later ones want a system libLLVM).
const BPF_LINKER_VERSION: &str = "0.10.4";

pub fn ensure_test_prerequisites() -> Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()?;
    ensure_ccache()?;
    ensure_clickhouse_server()
}

/// ccache makes DuckDB's C++ build, which clippy and the tests each run
/// (`cargo.rs`), cost its 20 minutes once.
pub fn ensure_ccache() -> Result<()> {
    if process::on_path("ccache") {
        return Ok(());
    }
    eprintln!("xtask: installing ccache (DuckDB's C++ is then compiled once, not per build)");
    apt_install("ccache", "the C++ build of DuckDB is cached with it")
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

/// The colony's ClickHouse store is tested (and benchmarked) against a real
/// server the test starts itself (private config and data directory);
/// Debian's 18.16 is the one installable here, and the store keeps to what
/// both it and current ClickHouse support. apt does not start it.
pub fn ensure_clickhouse_server() -> Result<()> {
    let installed = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"]
        .iter()
        .any(|path| std::path::Path::new(path).is_file())
        || process::on_path("clickhouse-server");
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing clickhouse-server (the colony's ClickHouse store tests)");
    apt_install("clickhouse-server", "the colony's ClickHouse tests need it")
}

/// `cargo xtask bench discovery` drives the lookups with h2load (nghttp2's
/// HTTP/2 load generator): one C thread costs far less CPU per request than
/// a Rust client sharing the machine with the server.
pub fn ensure_h2load() -> Result<()> {
    if process::on_path("h2load") {
        return Ok(());
    }
    eprintln!("xtask: installing nghttp2-client (h2load drives the discovery benchmark)");
    apt_install("nghttp2-client", "the discovery benchmark needs h2load")
}

/// `apt-get install -y package`, refreshing the package lists first if that
/// fails (a fresh machine may have none yet).
fn apt_install(package: &str, why: &str) -> Result<()> {
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if process::run(&mut apt(&["install", "-y", package])).is_err() {
        process::run(&mut apt(&["update"])).context("apt-get update failed")?;
        process::run(&mut apt(&["install", "-y", package]))
            .with_context(|| format!("apt-get install {package} failed; {why}"))?;
    }
    Ok(())
}
