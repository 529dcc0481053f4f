//! Lease-based leader election: only the replica holding the `coral-operator`
//! Lease in the operator's namespace runs controllers (and so writes); the
//! others wait, serving health and metrics. Leadership lost → controllers
//! stop gracefully and the replica goes back to waiting.

use futures::FutureExt;
use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::task::JoinError;

use crate::run::Shutdown;

pub const LEASE_NAME: &str = "coral-operator";
/// Seconds a lease stays valid without renewal, and how early it is renewed.
const LEASE_DURATION: u64 = 15;
const LEASE_GRACE: u64 = 5;

/// Why leader election ended other than by shutdown. Each ends the process,
/// so that the pod restarts and competes for the lease again.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease manager could not be set up or failed while releasing the lease.
    #[error(transparent)]
    Lease(#[from] LeaseManagerError),
    #[error("the lease manager stopped; exiting so that the pod restarts")]
    ManagerStopped,
    /// The lease manager's task panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] JoinError),
}

/// Calls `lead(stop)` each time this replica becomes leader; `stop`
/// completes when leadership is lost or on shutdown. Returns on shutdown,
/// releasing the lease so a standby takes over at once.
pub async fn run_as_leader<F, Fut>(
    client: Client,
    namespace: &str,
    shutdown: Shutdown,
    mut lead: F,
) -> Result<(), LeaderError>
where
    F: FnMut(Shutdown) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut builder = LeaseManagerBuilder::new(client, LEASE_NAME)
        .with_namespace(namespace)
        .with_duration(LEASE_DURATION)
        .with_grace(LEASE_GRACE);
    if let Ok(pod) = std::env::var("POD_NAME") {
        builder = builder.with_identity(pod);
    }
    let manager = builder.build().await?;
    let (mut leader, task) = manager.watch().await;
    loop {
        tokio::select! {
            _ = shutdown.clone() => break,
            became = leader.wait_for(|is_leader| *is_leader) => {
                if became.is_err() {
                    return Err(LeaderError::ManagerStopped);
                }
            }
        }
        tracing::info!(lease = LEASE_NAME, %namespace, "became leader; starting controllers");
        let mut watch_loss = leader.clone();
        let lost = async move {
            let _ = watch_loss.wait_for(|is_leader| !*is_leader).await;
        };
        let stop: Shutdown = futures::future::select(shutdown.clone(), lost.boxed())
            .map(|_| ())
            .boxed()
            .shared();
        lead(stop).await;
        if shutdown.peek().is_some() {
            break;
        }
        tracing::warn!(
            lease = LEASE_NAME,
            "lost leadership; controllers stopped, waiting to lead again"
        );
    }
    // Closing the channel makes the manager release the lease.
    drop(leader);
    task.await??;
    Ok(())
}
