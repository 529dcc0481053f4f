//! `/healthz`, `/readyz` and `/metrics` on the operator's HTTP port.
//! Reveals no resource data.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use coral_telemetry::{MetricsSource, ProbeBodies, Probes};
use futures::Future;

use crate::metrics::Metrics;

/// The operator answers bare words, without the newline the other
/// binaries end their probe texts with.
const BODIES: ProbeBodies = ProbeBodies {
    alive: "ok",
    ready: "ready",
    not_ready: "starting",
};

#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    /// Set once the controllers run.
    pub ready: Arc<AtomicBool>,
}

/// Binds `addr` and serves until `shutdown`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let HttpState { metrics, ready } = state;
    let probes = Probes::new(
        BODIES,
        ready,
        MetricsSource::from_fn(move || metrics.encode()),
    );
    // The operator's RunError wraps a plain io::Error.
    let server = coral_telemetry::serve(addr, probes.router(), shutdown)
        .await
        .map_err(|error| error.source)?;
    Ok((server.addr, server.task))
}
