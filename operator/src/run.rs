//! Runs every controller plus the HTTP endpoints until the shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use futures::future::Shared;
use kube::Client;
use tokio::sync::oneshot;

use crate::context::{Context, OperatorConfig};
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::{colony, connection, node_agent};

/// A cloneable "stop now" future.
pub type Shutdown = Shared<futures::future::BoxFuture<'static, ()>>;

pub fn shutdown_from(receiver: oneshot::Receiver<()>) -> Shutdown {
    receiver.map(|_| ()).boxed().shared()
}

/// Runs the operator until `shutdown` completes, then drains in-flight reconciles.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    http_addr: SocketAddr,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (bound, server) = http::serve(
        http_addr,
        HttpState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        },
        shutdown.clone(),
    )
    .await?;
    tracing::info!(%bound, namespace = %config.namespace, "coral-operator serving /healthz /readyz /metrics");
    let ctx = Arc::new(Context::new(client, config, metrics));
    ready.store(true, Ordering::Relaxed);
    tokio::join!(
        colony::controller::run(ctx.clone(), shutdown.clone()),
        connection::controller::run(ctx.clone(), shutdown.clone()),
        node_agent::run(ctx, shutdown.clone()),
    );
    let _ = server.await;
    tracing::info!("coral-operator stopped");
    Ok(())
}
