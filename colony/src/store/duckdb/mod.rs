//! The embedded DuckDB store: one file in the data directory, one
//! connection behind a mutex (a DuckDB connection is `Send` but not `Sync`)
//! together with the edge numbering it writes.

mod agents;
mod edge_ids;
mod flows;
mod inventory;
mod migrate;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use duckdb::Connection;
use edge_ids::EdgeIds;

use super::{
    AgentEnrollment, AgentRecord, BatchId, BatchOutcome, ComponentRecord, EdgeMinute, EdgeTotal,
    Enrolled, EventQuery, EventRecord, PurgeCutoffs, Purged, SeriesPoint, SeriesQuery, Store,
    StoreError, TopologyQuery,
};

/// The database file inside `--data-dir`.
pub const FILE_NAME: &str = "colony.duckdb";

pub struct DuckDbStore {
    inner: Mutex<Inner>,
    path: PathBuf,
}

struct Inner {
    connection: Connection,
    edges: EdgeIds,
}

impl Inner {
    /// Creates missing tables (upgrading old rollup tables first) and reads
    /// the edge numbering.
    fn prepare(mut connection: Connection) -> Result<Self, StoreError> {
        migrate::number_edges(&mut connection, schema::SCHEMA)?;
        connection.execute_batch(schema::SCHEMA).map_err(backend)?;
        let edges = EdgeIds::load(&connection)?;
        Ok(Inner { connection, edges })
    }
}

impl DuckDbStore {
    /// Open (or create) `<data_dir>/colony.duckdb` and its tables.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(FILE_NAME);
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Open {
            path: path.clone(),
            detail: format!("cannot create the data directory: {e}"),
        })?;
        let connection = Connection::open(&path).map_err(|e| classify_open_error(&path, e))?;
        let inner = Inner::prepare(connection).map_err(|error| match error {
            StoreError::Backend(detail) => StoreError::Open {
                path: path.clone(),
                detail,
            },
            other => other,
        })?;
        Ok(DuckDbStore {
            inner: Mutex::new(inner),
            path,
        })
    }

    /// An in-memory store (tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let connection = Connection::open_in_memory().map_err(backend)?;
        Ok(DuckDbStore {
            inner: Mutex::new(Inner::prepare(connection)?),
            path: PathBuf::from(":memory:"),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied
        // transaction (DuckDB rolls it back on drop), and the numbering
        // only changes after a commit, so the data is usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// DuckDB reports a held lock as "Could not set lock on file …: Conflicting
/// lock is held in …"; anything
/// else at open time is most likely a damaged or foreign file.
fn classify_open_error(path: &Path, error: duckdb::Error) -> StoreError {
    let detail = error.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("could not set lock") || lower.contains("conflicting lock") {
        StoreError::Locked {
            path: path.to_owned(),
            detail,
        }
    } else {
        StoreError::Open {
            path: path.to_owned(),
            detail,
        }
    }
}

pub(crate) fn backend(error: duckdb::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl Store for DuckDbStore {
    fn backend(&self) -> &'static str {
        "duckdb"
    }

    fn enroll_agent(
        &self,
        enrollment: &AgentEnrollment,
        max_host: u32,
    ) -> Result<Enrolled, StoreError> {
        agents::enroll(&mut self.lock().connection, enrollment, max_host)
    }

    fn touch_agent(&self, agent_id: &str, at: i64) -> Result<bool, StoreError> {
        agents::touch(&self.lock().connection, agent_id, at)
    }

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
        agents::get(&self.lock().connection, agent_id)
    }

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        agents::list(&self.lock().connection)
    }

    fn apply_batch(
        &self,
        batch: &BatchId,
        rows: &[EdgeMinute],
    ) -> Result<BatchOutcome, StoreError> {
        let inner = &mut *self.lock();
        flows::apply_batch(&mut inner.connection, &mut inner.edges, batch, rows)
    }

    fn topology(&self, query: &TopologyQuery) -> Result<Vec<EdgeTotal>, StoreError> {
        let inner = self.lock();
        flows::topology(&inner.connection, &inner.edges, query)
    }

    fn minute_rows(&self, from: i64) -> Result<Vec<EdgeMinute>, StoreError> {
        let inner = self.lock();
        flows::minute_rows(&inner.connection, &inner.edges, from)
    }

    fn edge_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        let inner = self.lock();
        flows::edge_series(&inner.connection, &inner.edges, query)
    }

    fn upsert_component(&self, component: &ComponentRecord) -> Result<(), StoreError> {
        inventory::upsert_component(&self.lock().connection, component)
    }

    fn remove_component(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        inventory::remove_component(&self.lock().connection, namespace, name)
    }

    fn list_components(&self, namespace: Option<&str>) -> Result<Vec<ComponentRecord>, StoreError> {
        inventory::list_components(&self.lock().connection, namespace)
    }

    fn record_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        inventory::record_event(&self.lock().connection, event)
    }

    fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        inventory::list_events(&self.lock().connection, query)
    }

    fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError> {
        let connection = &mut self.lock().connection;
        let (folded, written) = flows::fold_into_hours(connection, cutoffs.edge_minutes_before)?;
        let count = |sql: &str, before: i64| -> Result<u64, StoreError> {
            let deleted = connection.execute(sql, [before]).map_err(backend)?;
            Ok(deleted as u64)
        };
        Ok(Purged {
            edge_minutes: folded,
            edge_hours_written: written,
            edge_hours: count(
                "DELETE FROM edge_hours WHERE hour < ?",
                cutoffs.edge_hours_before,
            )?,
            events: count("DELETE FROM events WHERE time < ?", cutoffs.events_before)?,
            batches: count(
                "DELETE FROM applied_batches WHERE received_at < ?",
                cutoffs.batches_before,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[test]
    fn conforms() {
        conformance::run_all(|| DuckDbStore::in_memory().expect("in-memory DuckDB"));
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        conformance::persists_across_reopen(|| DuckDbStore::open(dir.path()).expect("open"));
    }

    #[test]
    fn corrupted_file_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), vec![0x5a; 64 * 1024]).unwrap();
        let Err(error) = DuckDbStore::open(dir.path()) else {
            panic!("a garbage file must not open");
        };
        let text = error.to_string();
        assert!(text.contains("colony.duckdb"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }
}
