//! The `coral` and `kubectl-coral` command line: one library, two binaries.
//!
//! `coral` works on a laptop (`coral init`, `coral colony start`, `coral
//! status`, `coral topology`); `kubectl coral` does the same against the
//! colonies of the current kubeconfig context, reaching their API through
//! the API server's service proxy.

pub mod args;
pub mod client;
pub mod colony_file;
pub mod error;
pub mod home;
pub mod keys;
pub mod kubectl;
pub mod local;
pub mod output;
pub mod proxy;
pub mod render;
pub mod report;
pub mod run;
pub mod show;

pub use error::CliError;
pub use run::{coral_main, kubectl_coral_main};

/// The CLI's version (the workspace version unless `CORAL_VERSION` is set at build time).
pub const VERSION: &str = match option_env!("CORAL_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};
