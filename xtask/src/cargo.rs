//! The nested `cargo` that xtask runs for builds, tests and benchmarks.
//!
//! `cargo xtask` is itself `cargo run`, which sets package variables such as
//! `CARGO_MANIFEST_DIR` for the xtask process. Passed on, they reach build
//! scripts that watch them (ring declares `rerun-if-env-changed` on
//! `CARGO_MANIFEST_DIR`), so a build from a clone at another path, or from a
//! plain shell, saw them "change": ring rebuilt, and with it everything above
//! it, DuckDB's 20-minute C++ build included. Nested cargo gets them removed.
//!
//! `cargo clippy` and `cargo test` build libduckdb-sys's build script as
//! different units (check and build mode resolve host dependencies apart),
//! so each runs DuckDB's C++ build into its own OUT_DIR. With ccache as the
//! C/C++ compiler wrapper (cc-rs takes `CXX="ccache c++"`) the second build
//! is cache hits: a cold `cargo xtask test` compiles DuckDB once.

use std::process::Command;

use crate::{paths, process};

/// Variables `cargo run` sets for the program it runs, which describe xtask
/// itself rather than the build nested cargo is asked for.
const XTASK_PACKAGE_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// `cargo` in the workspace root, with the shared target dir outside the
/// checkout and without the xtask package's own variables.
pub fn command() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(paths::workspace_root())
        .env("CARGO_TARGET_DIR", paths::cargo_target_dir());
    for var in XTASK_PACKAGE_VARS {
        cmd.env_remove(var);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CARGO_PKG_") {
            cmd.env_remove(name);
        }
    }
    if process::on_path("ccache") {
        cmd.env("CC", "ccache cc")
            .env("CXX", "ccache c++")
            .env("CCACHE_DIR", paths::cache_dir().join("ccache"));
    }
    cmd
}
