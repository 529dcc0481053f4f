//! Watch caches of the colony's namespace (Connections, pods and the
//! workload kinds), and the loop that turns them into inventory rows and
//! events in the store.

use std::collections::BTreeMap;
use std::time::Duration;

use coral_crds::Connection;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::changes;
use super::components::{ClusterState, Observed, observe};
use crate::service::{Colony, unix_now};
use crate::store::{ComponentRecord, EventRecord, StoreError};
use coral_config::KubernetesColony;

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach the Kubernetes API for the component inventory of {colony} ({source}); \
     in cluster the colony needs its ServiceAccount, elsewhere a KUBECONFIG, or leave out \
     --kubernetes-colony"
)]
pub struct InventoryError {
    colony: KubernetesColony,
    #[source]
    source: kube::Error,
}

struct Caches {
    connections: Store<Connection>,
    pods: Store<Pod>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
}

impl Caches {
    fn start(client: &Client, namespace: &str) -> Self {
        Self {
            connections: cache(client, namespace),
            pods: cache(client, namespace),
            deployments: cache(client, namespace),
            stateful_sets: cache(client, namespace),
            daemon_sets: cache(client, namespace),
        }
    }

    /// Returns once every watch has listed.
    async fn wait_until_ready(&self) {
        let _ = futures::join!(
            self.connections.wait_until_ready(),
            self.pods.wait_until_ready(),
            self.deployments.wait_until_ready(),
            self.stateful_sets.wait_until_ready(),
            self.daemon_sets.wait_until_ready(),
        );
    }

    fn state(&self) -> ClusterState {
        ClusterState {
            connections: self.connections.state(),
            pods: self.pods.state(),
            deployments: self.deployments.state(),
            stateful_sets: self.stateful_sets.state(),
            daemon_sets: self.daemon_sets.state(),
        }
    }
}

/// A reflector over one kind in `namespace`, driven on the runtime. Watch
/// errors (RBAC, API server restarts) are logged and retried with backoff.
fn cache<K>(client: &Client, namespace: &str) -> Store<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, writer) = reflector::store();
    let api = Api::<K>::namespaced(client.clone(), namespace);
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|object: &mut K| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::warn!(%error, %kind, "component inventory watch failed; retrying");
            }
        }
    });
    store
}

/// Connects to the API server; the watches start in [`run`].
pub async fn connect(colony: &KubernetesColony) -> Result<Client, InventoryError> {
    Client::try_default()
        .await
        .map_err(|source| InventoryError {
            colony: colony.clone(),
            source,
        })
}

/// Keeps the store's components and events in step with the cluster, every
/// `interval`, until aborted.
pub async fn run(colony: Colony, client: Client, target: KubernetesColony, interval: Duration) {
    let caches = Caches::start(&client, &target.namespace);
    caches.wait_until_ready().await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What the colony wrote before it last stopped: the first pass reports
    // what changed since then.
    let mut rows_before_start = stored_rows(&colony).await;
    let mut stored: Option<BTreeMap<(String, String), Observed>> = None;
    loop {
        ticker.tick().await;
        let now = unix_now();
        let observed = observe(&caches.state(), &target.name, now);
        let previous = stored.as_ref();
        let events = match previous {
            Some(previous) => changes::events(previous, &observed, now),
            None => changes::while_away(&rows_before_start, &observed, now),
        };
        match write(&colony, previous, &observed, events).await {
            Ok(()) => {
                stored = Some(observed);
                rows_before_start = Vec::new();
            }
            Err(error) => {
                colony.metrics().store_errors.inc();
                tracing::warn!(%error, "storing the component inventory failed; will retry");
            }
        }
    }
}

/// The components the store holds; none (with a warning) when it cannot say.
async fn stored_rows(colony: &Colony) -> Vec<ComponentRecord> {
    let store = colony.store();
    match tokio::task::spawn_blocking(move || store.list_components(None)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot read the stored components; changes made while the colony was down are not events");
            Vec::new()
        }
        Err(error) => {
            tracing::warn!(%error, "reading the stored components failed");
            Vec::new()
        }
    }
}

/// Writes the rows that changed since `previous` (all of them the first
/// time), removes the components no Connection selects any more, and
/// records `events`.
async fn write(
    colony: &Colony,
    previous: Option<&BTreeMap<(String, String), Observed>>,
    observed: &BTreeMap<(String, String), Observed>,
    events: Vec<EventRecord>,
) -> Result<(), StoreError> {
    let changed: Vec<ComponentRecord> = observed
        .iter()
        .filter(|(key, seen)| {
            previous
                .and_then(|previous| previous.get(*key))
                .is_none_or(|was| !same_row(&was.record, &seen.record))
        })
        .map(|(_, seen)| seen.record.clone())
        .collect();
    let keep: Vec<(String, String)> = observed.keys().cloned().collect();
    let store = colony.store();
    tokio::task::spawn_blocking(move || {
        for record in &changed {
            store.upsert_component(record)?;
        }
        for component in store.list_components(None)? {
            if !keep.contains(&(component.namespace.clone(), component.name.clone())) {
                store.remove_component(&component.namespace, &component.name)?;
            }
        }
        for event in &events {
            store.record_event(event)?;
        }
        Ok(())
    })
    .await
    .map_err(|error| StoreError::Backend(format!("the inventory task failed: {error}")))?
}

/// Equal apart from when it was written.
fn same_row(a: &ComponentRecord, b: &ComponentRecord) -> bool {
    ComponentRecord {
        updated_at: b.updated_at,
        ..a.clone()
    } == *b
}
