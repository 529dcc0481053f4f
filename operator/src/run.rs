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
use crate::leader::LeaderError;
use crate::metrics::Metrics;
use crate::{colony, connection, leader, node_agent, reef};

/// A cloneable "stop now" future.
pub type Shutdown = Shared<futures::future::BoxFuture<'static, ()>>;

pub fn shutdown_from(receiver: oneshot::Receiver<()>) -> Shutdown {
    receiver.map(|_| ()).boxed().shared()
}

/// Why the operator stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The health and metrics endpoints could not be served (address in use, …).
    #[error(transparent)]
    Http(#[from] std::io::Error),
    #[error(transparent)]
    Leader(#[from] LeaderError),
}

/// [`run_operator`] for the binary, whose `main` reports any error through
/// `anyhow`.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    http_addr: SocketAddr,
    leader_election: bool,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    Ok(run_operator(client, config, http_addr, leader_election, shutdown).await?)
}

/// Runs the operator until `shutdown` completes, then drains in-flight
/// reconciles. With `leader_election`, controllers run only while this
/// replica holds the lease.
pub async fn run_operator(
    client: Client,
    config: OperatorConfig,
    http_addr: SocketAddr,
    leader_election: bool,
    shutdown: Shutdown,
) -> Result<(), RunError> {
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
    let namespace = config.namespace.clone();
    let ctx = Arc::new(Context::new(client.clone(), config, metrics));
    // A standby replica is healthy and ready too; it just does not write.
    ready.store(true, Ordering::Relaxed);
    let result = if leader_election {
        leader::run_as_leader(client, &namespace, shutdown.clone(), |stop| {
            run_controllers(ctx.clone(), stop)
        })
        .await
    } else {
        run_controllers(ctx, shutdown.clone()).await;
        Ok(())
    };
    let _ = server.await;
    result?;
    tracing::info!("coral-operator stopped");
    Ok(())
}

async fn run_controllers(ctx: Arc<Context>, stop: Shutdown) {
    tokio::join!(
        colony::controller::run(ctx.clone(), stop.clone()),
        connection::controller::run(ctx.clone(), stop.clone()),
        reef::controller::run(ctx.clone(), stop.clone()),
        node_agent::run(ctx, stop),
    );
}
