//! Workspace binaries of other packages, for tests that run them (cargo
//! only names a package's own binaries in `CARGO_BIN_EXE_*`).

use std::path::{Path, PathBuf};

/// `target/<profile>/<name>`, beside the running test's
/// `target/<profile>/deps/<test>`. Panics, saying how to build it, when it
/// is missing.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build --bins` \
         with the same CARGO_TARGET_DIR and profile)",
        path.display()
    );
    path
}
