//! Watch caches of all pods and Services (kube-rs reflectors), from which a
//! fresh [`ClusterIndex`] is built for each batch, and of Coral's
//! Connections when flows are scoped per colony ([`ColonyScope`]).

use std::time::Duration;

use coral_crds::Connection;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::attribution::ClusterIndex;
use crate::scope::ColonyScope;

#[derive(Debug, thiserror::Error)]
pub enum ClusterWatchError {
    #[error(
        "cannot reach the Kubernetes API ({0}); in cluster the agent needs its ServiceAccount \
         (list/watch pods and services); outside Kubernetes run with --mode host"
    )]
    Client(#[source] kube::Error),
    #[error(
        "the pod, Service and Connection caches did not fill within {0:?}: check the agent's \
         RBAC (list/watch pods, services and connections.coral.io cluster-wide), that Coral's \
         CRDs are installed, and the API server's health"
    )]
    NotReady(Duration),
}

#[derive(Clone)]
pub struct ClusterWatch {
    node_name: String,
    pods: Store<Pod>,
    services: Store<Service>,
    /// Watched only when flows are scoped per colony.
    connections: Option<Store<Connection>>,
}

impl ClusterWatch {
    /// Starts the reflectors on the current runtime and waits until their
    /// first lists are in.
    pub async fn start(
        node_name: &str,
        ready_timeout: Duration,
        watch_connections: bool,
    ) -> Result<Self, ClusterWatchError> {
        let client = Client::try_default()
            .await
            .map_err(ClusterWatchError::Client)?;
        let (pods, pod_writer) = reflector::store();
        let (services, service_writer) = reflector::store();
        // Keep only what attribution reads: names, labels, owners, node,
        // host networking, phase and IPs.
        let pod_stream = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|pod: &mut Pod| {
                pod.metadata.managed_fields = None;
                pod.metadata.annotations = None;
                if let Some(spec) = &mut pod.spec {
                    spec.containers.clear();
                    spec.init_containers = None;
                    spec.volumes = None;
                    spec.tolerations = None;
                    spec.affinity = None;
                }
                if let Some(status) = &mut pod.status {
                    status.container_statuses = None;
                    status.init_container_statuses = None;
                    status.conditions = None;
                }
            })
            .reflect(pod_writer);
        let service_stream = watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(|service: &mut Service| {
            service.metadata.managed_fields = None;
            service.metadata.annotations = None;
        })
        .reflect(service_writer);
        tokio::spawn(log_errors("pods", pod_stream));
        tokio::spawn(log_errors("services", service_stream));
        let connections = watch_connections.then(|| {
            let (connections, writer) = reflector::store();
            let stream = watcher(Api::<Connection>::all(client), watcher::Config::default())
                .default_backoff()
                .modify(|connection: &mut Connection| {
                    connection.metadata.managed_fields = None;
                    connection.metadata.annotations = None;
                    connection.status = None;
                })
                .reflect(writer);
            tokio::spawn(log_errors("connections", stream));
            connections
        });

        let ready = async {
            let _ = pods.wait_until_ready().await;
            let _ = services.wait_until_ready().await;
            if let Some(connections) = &connections {
                let _ = connections.wait_until_ready().await;
            }
        };
        tokio::time::timeout(ready_timeout, ready)
            .await
            .map_err(|_| ClusterWatchError::NotReady(ready_timeout))?;
        tracing::info!(
            pods = pods.state().len(),
            services = services.state().len(),
            connections = connections.as_ref().map(|c| c.state().len()),
            node = node_name,
            "watch caches ready"
        );
        Ok(Self {
            node_name: node_name.to_owned(),
            pods,
            services,
            connections,
        })
    }

    /// Which workloads each colony's Connections select now (nothing when
    /// Connections are not watched).
    pub fn scope(&self) -> ColonyScope {
        let Some(connections) = &self.connections else {
            return ColonyScope::default();
        };
        let pods = self.pods.state();
        let connections = connections.state();
        ColonyScope::build(
            pods.iter().map(|pod| pod.as_ref()),
            connections.iter().map(|connection| connection.as_ref()),
        )
    }

    /// The index over the caches' current contents.
    pub fn index(&self) -> ClusterIndex {
        let pods = self.pods.state();
        let services = self.services.state();
        ClusterIndex::build(
            &self.node_name,
            pods.iter().map(|pod| pod.as_ref()),
            services.iter().map(|service| service.as_ref()),
        )
    }
}

async fn log_errors<K>(
    what: &'static str,
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(error) = item {
            tracing::warn!(%error, what, "watch failed; retrying with backoff (check RBAC and the API server)");
        }
    }
}
