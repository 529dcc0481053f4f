//! Storage behind one trait so DuckDB (embedded default) and ClickHouse
//! (external) serve the same API; `conformance` is the suite every backend
//! must pass.
//!
//! The trait is synchronous: the service calls it from
//! `tokio::task::spawn_blocking`. DuckDB is a blocking library; the
//! ClickHouse backend blocks on its own small runtime inside that thread
//! (so it must not be called from an async task directly).

pub mod clickhouse;
#[cfg(test)]
pub mod conformance;
pub mod duckdb;
pub mod model;
pub mod recent;
pub mod resolution;

use std::path::PathBuf;

pub use model::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the DuckDB file {path} is locked by another process ({detail}); stop the other \
         coral-colony using this data directory, or start with another --data-dir"
    )]
    Locked { path: PathBuf, detail: String },
    #[error(
        "cannot open the DuckDB file {path}: {detail}; if it is corrupted, move it aside \
         (the colony then starts with an empty store) or restore it from a backup"
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "cannot use ClickHouse at {url}: {detail}; check --clickhouse-url (http://host:8123 \
         or https://…), that the server is running and reachable from the colony, and the \
         user and password"
    )]
    Connect { url: String, detail: String },
    #[error("the mesh network is full ({capacity} agents); widen the mesh CIDR")]
    MeshFull { capacity: u32 },
    #[error("storage failed: {0}")]
    Backend(String),
}

pub trait Store: Send + Sync + 'static {
    /// Short backend name for status and logs ("duckdb").
    fn backend(&self) -> &'static str;

    /// Record (or refresh) an agent and give it the mesh host number bound
    /// to its public key, allocating the lowest free one in `2..=max_host`.
    fn enroll_agent(
        &self,
        enrollment: &AgentEnrollment,
        max_host: u32,
    ) -> Result<Enrolled, StoreError>;

    /// Set `last_seen`; false when the agent is unknown.
    fn touch_agent(&self, agent_id: &str, at: i64) -> Result<bool, StoreError>;

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError>;

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError>;

    /// Store a batch's rollup rows once: if (agent, sequence) is already
    /// recorded nothing is written and `Duplicate` is returned. Rows and the
    /// ledger entry are written atomically.
    fn apply_batch(&self, batch: &BatchId, rows: &[EdgeMinute])
    -> Result<BatchOutcome, StoreError>;

    fn topology(&self, query: &TopologyQuery) -> Result<Vec<EdgeTotal>, StoreError>;

    /// Minute rollups from `from` on, at most one row per minute and edge
    /// (rows of several batches summed). Loads `recent::RecentMinutes`.
    fn minute_rows(&self, from: i64) -> Result<Vec<EdgeMinute>, StoreError>;

    fn edge_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError>;

    fn upsert_component(&self, component: &ComponentRecord) -> Result<(), StoreError>;

    /// Forget a component (its Connection is gone); its events stay.
    fn remove_component(&self, namespace: &str, name: &str) -> Result<(), StoreError>;

    /// Components, optionally of one namespace, ordered by namespace and name.
    fn list_components(&self, namespace: Option<&str>) -> Result<Vec<ComponentRecord>, StoreError>;

    fn record_event(&self, event: &EventRecord) -> Result<(), StoreError>;

    /// Newest first.
    fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError>;

    fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError>;
}
