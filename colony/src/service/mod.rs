//! The colony's state shared by both APIs: the store, settings, metrics.
//! `agent_api` serves agents, `colony_api` serves users and tools; both run
//! the same code for gRPC and Connect-JSON.

mod agent_api;
mod colony_api;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::ColonyError;
use crate::mesh_hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use coral_mesh::MeshNetwork;

/// What the colony needs from its configuration.
#[derive(Clone)]
pub struct ColonySettings {
    pub colony_id: String,
    pub application: String,
    pub environment: String,
    pub version: String,
    pub enrollment_token: String,
    pub mesh: MeshNetwork,
    pub connect_port: u16,
    /// Advertised WireGuard endpoint (host:port).
    pub wireguard_endpoint: String,
    pub retention: crate::retention::Retention,
}

impl std::fmt::Debug for ColonySettings {
    // Hand-written so the enrollment token never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColonySettings")
            .field("colony_id", &self.colony_id)
            .field("application", &self.application)
            .field("environment", &self.environment)
            .field("connect_port", &self.connect_port)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// Colony state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Colony {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    settings: ColonySettings,
    /// None when the colony runs without a mesh (`--no-mesh`).
    hub: Option<Hub>,
    metrics: Metrics,
    started: Instant,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Colony {
    /// A colony without a mesh: agents report on the connect port.
    pub fn new(store: Arc<dyn Store>, settings: ColonySettings) -> Self {
        Self::build(store, settings, None)
    }

    /// A colony whose agents enroll into `hub` and report through it.
    pub fn with_hub(store: Arc<dyn Store>, settings: ColonySettings, hub: Hub) -> Self {
        Self::build(store, settings, Some(hub))
    }

    fn build(store: Arc<dyn Store>, settings: ColonySettings, hub: Option<Hub>) -> Self {
        Colony {
            inner: Arc::new(Inner {
                store,
                settings,
                hub,
                metrics: Metrics::new(),
                started: Instant::now(),
            }),
        }
    }

    pub fn settings(&self) -> &ColonySettings {
        &self.inner.settings
    }

    pub fn hub(&self) -> Option<&Hub> {
        self.inner.hub.as_ref()
    }

    /// With a mesh, agents' reports are taken only from inside the tunnel:
    /// on a connection to the colony's mesh address, where the caller has
    /// proved its WireGuard key. Anyone with the token may enroll anywhere.
    fn require_mesh(&self, local_addr: Option<std::net::SocketAddr>) -> Result<(), ColonyError> {
        if self.hub().is_none() {
            return Ok(());
        }
        let mesh = &self.inner.settings.mesh;
        match local_addr.map(|addr| addr.ip()) {
            Some(ip) if ip == mesh.colony_ipv4() || ip == mesh.colony_ipv6() => Ok(()),
            _ => Err(ColonyError::MeshOnly {
                mesh_addr: format!(
                    "{}:{}",
                    mesh.colony_ipv4(),
                    self.inner.settings.connect_port
                ),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// How far back flow batches are taken (the minute retention).
    fn minute_retention_seconds(&self) -> i64 {
        i64::try_from(self.inner.settings.retention.minutes.as_secs()).unwrap_or(i64::MAX)
    }

    /// The longest window a query may ask for.
    fn query_retention_seconds(&self) -> i64 {
        i64::try_from(self.inner.settings.retention.longest().as_secs()).unwrap_or(i64::MAX)
    }

    /// Run a store call on the blocking pool; failures are counted and logged.
    async fn with_store<T, F>(&self, operation: &'static str, call: F) -> Result<T, ColonyError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        let result = tokio::task::spawn_blocking(move || call(store.as_ref()))
            .await
            .unwrap_or_else(|join| {
                Err(StoreError::Backend(format!("storage task failed: {join}")))
            });
        result.map_err(|error| {
            if !matches!(error, StoreError::MeshFull { .. }) {
                self.inner.metrics.store_errors.inc();
                tracing::warn!(operation, %error, "storage operation failed");
            }
            ColonyError::Store(error)
        })
    }
}
