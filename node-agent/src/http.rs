//! `/metrics`, `/healthz` and `/readyz` on a small port of their own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use coral_telemetry::{MetricsSource, ProbeBodies, Probes, Readiness};

use crate::metrics::Metrics;

pub struct Health {
    pub metrics: Arc<Metrics>,
    /// Capturing and attributing (set once started, cleared when stopping).
    pub ready: AtomicBool,
}

/// Binds `addr` and serves in the background; returns the bound address.
/// The port stays open until the process exits, so a stopping agent still
/// answers its probes (`/readyz` with 503) and scrapes.
pub async fn serve(addr: SocketAddr, health: Arc<Health>) -> std::io::Result<SocketAddr> {
    let metrics = health.metrics.clone();
    let probes = Probes::new(
        ProbeBodies::lines("not ready\n"),
        Readiness::from_fn(move || health.ready.load(Ordering::Relaxed)),
        MetricsSource::from_fn(move || metrics.render()),
    );
    // The caller names the address in its own error.
    let server = coral_telemetry::serve(addr, probes.router(), std::future::pending())
        .await
        .map_err(|error| error.source)?;
    Ok(server.addr)
}
