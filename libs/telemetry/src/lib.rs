//! What every Coral binary reports about itself, in one place so they all
//! behave alike:
//!
//! - logs: [`init`] with the `--log-level` / `--log-format` values;
//! - stopping: [`shutdown_signal`] resolves on SIGINT or SIGTERM.

mod logging;
mod signals;

pub use logging::{LogFormat, LogLevel, directives, init};
pub use signals::{SignalError, shutdown_signal};
