//! What every Coral binary reports about itself, in one place so they all
//! behave alike:
//!
//! - logs: [`init`] with the `--log-level` / `--log-format` values;
//! - probes and metrics: [`Probes`] routes `/healthz`, `/readyz` and
//!   `/metrics`, merged into a server's own router or served on a port of
//!   their own with [`serve`];
//! - stopping: [`shutdown_signal`] resolves on SIGINT or SIGTERM.

mod logging;
mod metrics;
mod probes;
mod readiness;
mod server;
mod signals;

pub use logging::{LogFormat, LogLevel, directives, init};
pub use metrics::{MetricsSource, OPENMETRICS, encode_registry};
pub use probes::{HEALTHZ, METRICS, ProbeBodies, Probes, READYZ};
pub use readiness::Readiness;
pub use server::{BindError, Server, serve};
pub use signals::{SignalError, shutdown_signal};
