//! The pod and Colony caches a Connection reconcile resolves from, filled by
//! the controller's own watches, and the one wait for their first lists.

use coral_crds::Colony;
use k8s_openapi::api::core::v1::Pod;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use tokio::sync::OnceCell;

pub struct Caches {
    pub pods: Store<Pod>,
    /// Metadata only: existence is all a Connection asks of its Colony, and
    /// a Colony the operator cannot parse must not hide the others.
    pub colonies: Store<PartialObjectMeta<Colony>>,
    /// Set once both caches hold their first full list.
    filled: OnceCell<()>,
}

impl Caches {
    pub fn new(pods: Store<Pod>, colonies: Store<PartialObjectMeta<Colony>>) -> Self {
        Self {
            pods,
            colonies,
            filled: OnceCell::new(),
        }
    }

    /// Waits for the first full lists. One task waits on the stores and the
    /// others on this cell: a kube `Store` wakes only the last of several
    /// concurrent waiters, which left 15 of the first 16 reconciles asleep
    /// for good.
    pub async fn wait_until_filled(&self) {
        self.filled
            .get_or_init(|| async {
                let _ = self.pods.wait_until_ready().await;
                let _ = self.colonies.wait_until_ready().await;
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;

    #[tokio::test]
    async fn every_concurrent_waiter_wakes_once_both_caches_are_filled() {
        let (pods, mut pod_writer) = reflector::store::<Pod>();
        let (colonies, mut colony_writer) = reflector::store::<PartialObjectMeta<Colony>>();
        let caches = Arc::new(Caches::new(pods, colonies));
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let caches = caches.clone();
                tokio::spawn(async move { caches.wait_until_filled().await })
            })
            .collect();
        // Let every waiter park before the lists complete.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(waiters.iter().all(|waiter| !waiter.is_finished()));
        pod_writer.apply_watcher_event(&Event::Init);
        pod_writer.apply_watcher_event(&Event::InitDone);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            waiters.iter().all(|waiter| !waiter.is_finished()),
            "woke before the Colony cache was filled"
        );
        colony_writer.apply_watcher_event(&Event::Init);
        colony_writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("a waiter was never woken")
                .expect("waiter task");
        }
    }
}
