//! The ClickHouse store (external, scale-out): the same tables as DuckDB in
//! a database of a ClickHouse server, over HTTP with the `clickhouse`
//! crate. Works on Debian's ClickHouse 18.16 and on current releases (see
//! `schema` for the common subset kept to, and `flows` for how batches stay
//! idempotent without transactions).
//!
//! One colony writes to a database: enrollments are serialized inside this
//! process (mesh host allocation is read-then-insert).

mod agents;
mod connection;
mod flows;
mod inventory;
pub mod local_server;
mod schema;
#[cfg(test)]
mod tests;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use connection::Connection;

use super::{
    AgentEnrollment, AgentRecord, BatchId, BatchOutcome, ComponentRecord, EdgeMinute, EdgeTotal,
    Enrolled, EventQuery, EventRecord, PurgeCutoffs, Purged, SeriesPoint, SeriesQuery, Store,
    StoreError, TopologyQuery,
};

/// The database used when none is configured.
pub const DEFAULT_DATABASE: &str = "coral";

pub struct ClickHouseStore {
    connection: Connection,
    server_version: String,
    enroll_lock: Mutex<()>,
    /// Last revision handed out for ReplacingMergeTree upserts.
    revision: AtomicU64,
}

impl ClickHouseStore {
    /// Connect to the server at `url` (`http://host:8123`, or `https://…`),
    /// create `database` and the tables if missing. A bad URL, an
    /// unreachable server or refused credentials give
    /// `StoreError::Connect`, naming the URL and what to check.
    pub fn open(url: &str, database: &str, user: &str, password: &str) -> Result<Self, StoreError> {
        let shown = redact(url);
        let connect_error = |detail: String| StoreError::Connect {
            url: shown.clone(),
            detail,
        };
        check_url(url).map_err(connect_error)?;
        check_database_name(database).map_err(StoreError::Backend)?;
        let connection =
            Connection::new(url, database, user, password).map_err(StoreError::Backend)?;
        let server_version = connection
            .run(
                connection
                    .server_client()
                    .query("SELECT version()")
                    .fetch_one::<String>(),
            )
            .map_err(connect_error)?;
        connection.wait(
            "create the database",
            connection
                .server_client()
                .query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
                .execute(),
        )?;
        for table in schema::TABLES {
            connection.wait("create the tables", connection.query(table).execute())?;
        }
        tracing::debug!(url = %shown, database, version = %server_version, "ClickHouse store open");
        Ok(ClickHouseStore {
            connection,
            server_version,
            enroll_lock: Mutex::new(()),
            revision: AtomicU64::new(0),
        })
    }

    /// `SELECT version()` of the server, e.g. "18.16.1".
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    pub fn database(&self) -> &str {
        self.connection.database()
    }

    /// Nanoseconds since the epoch, strictly increasing within this process:
    /// the `revision` of upserted rows (the highest wins).
    fn next_revision(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut last = self.revision.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self.revision.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or(
            "the URL must start with http:// or https:// (ClickHouse's HTTP port, 8123 by default)",
        )?;
    if rest.split(['/', '?']).next().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// The database name goes into `CREATE DATABASE` unquoted.
fn check_database_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid ClickHouse database name {name:?}: use letters, digits and _ \
             (not starting with a digit)"
        ))
    }
}

/// The URL without `user:password@`, for messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

impl Store for ClickHouseStore {
    fn backend(&self) -> &'static str {
        "clickhouse"
    }

    fn enroll_agent(
        &self,
        enrollment: &AgentEnrollment,
        max_host: u32,
    ) -> Result<Enrolled, StoreError> {
        let _serialized = self
            .enroll_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        agents::enroll(&self.connection, enrollment, max_host, self.next_revision())
    }

    fn touch_agent(&self, agent_id: &str, at: i64) -> Result<bool, StoreError> {
        agents::touch(&self.connection, agent_id, at)
    }

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
        agents::get(&self.connection, agent_id)
    }

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        agents::list(&self.connection)
    }

    fn apply_batch(
        &self,
        batch: &BatchId,
        rows: &[EdgeMinute],
    ) -> Result<BatchOutcome, StoreError> {
        flows::apply_batch(&self.connection, batch, rows)
    }

    fn topology(&self, query: &TopologyQuery) -> Result<Vec<EdgeTotal>, StoreError> {
        flows::topology(&self.connection, query)
    }

    fn minute_rows(&self, from: i64) -> Result<Vec<EdgeMinute>, StoreError> {
        flows::minute_rows(&self.connection, from)
    }

    fn edge_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        flows::edge_series(&self.connection, query)
    }

    fn upsert_component(&self, component: &ComponentRecord) -> Result<(), StoreError> {
        inventory::upsert_component(&self.connection, component, self.next_revision())
    }

    fn remove_component(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        inventory::remove_component(&self.connection, namespace, name, self.next_revision())
    }

    fn list_components(&self, namespace: Option<&str>) -> Result<Vec<ComponentRecord>, StoreError> {
        inventory::list_components(&self.connection, namespace)
    }

    fn record_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        inventory::record_event(&self.connection, event)
    }

    fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        inventory::list_events(&self.connection, query)
    }

    fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError> {
        let connection = &self.connection;
        let (folded, written) = flows::fold_into_hours(connection, cutoffs.edge_minutes_before)?;
        Ok(Purged {
            edge_minutes: folded,
            edge_hours_written: written,
            edge_hours: connection.delete_before(
                "edge_hours",
                "hour",
                cutoffs.edge_hours_before,
                false,
            )?,
            events: connection.delete_before("events", "time", cutoffs.events_before, false)?,
            batches: connection.delete_before(
                "applied_batches",
                "received_at",
                cutoffs.batches_before,
                true,
            )?,
        })
    }
}
