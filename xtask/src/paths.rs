//! Where things live. Caches and cluster state stay outside the checkout so
//! that a fresh clone (as CI makes) reuses them.

use std::path::PathBuf;

/// The repository root (xtask lives one level below it). `cargo run` sets
/// `CARGO_MANIFEST_DIR` for the process, and that one is the checkout being
/// worked on: a binary reused from a clone at another path (same target
/// dir, older sources) would otherwise point back at that clone.
pub fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// `$CORAL_CACHE_DIR`, else `$XDG_CACHE_HOME/coral`, else `~/.cache/coral`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CORAL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("coral");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("coral")
}

/// Cargo target dir for the heavy builds driven by xtask (tests, benches).
pub fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("target"))
}
