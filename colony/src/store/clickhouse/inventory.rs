//! Components and events.

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::connection::Connection;
use crate::store::{ComponentRecord, EventQuery, EventRecord, StoreError};

#[derive(Row, Serialize, Deserialize)]
struct ComponentRow {
    namespace: String,
    name: String,
    kind: String,
    version: String,
    pods: u32,
    ready_pods: u32,
    restarts: u32,
    status: String,
    started_at: i64,
    ports: Vec<u32>,
    updated_at: i64,
    revision: u64,
}

/// The status of a removed component's last row. A tombstone, not a
/// DELETE: mutations are asynchronous, and the newest row wins under FINAL
/// on every ClickHouse version. Filtered out in Rust, because a WHERE on a
/// non-key column may be applied before FINAL picks the newest row.
const REMOVED: &str = "(removed)";

/// An upsert: the row with the highest `revision` wins under FINAL.
pub fn upsert_component(
    connection: &Connection,
    component: &ComponentRecord,
    revision: u64,
) -> Result<(), StoreError> {
    let row = ComponentRow {
        namespace: component.namespace.clone(),
        name: component.name.clone(),
        kind: component.kind.clone(),
        version: component.version.clone(),
        pods: component.pods,
        ready_pods: component.ready_pods,
        restarts: component.restarts,
        status: component.status.clone(),
        started_at: component.started_at,
        ports: component.ports.clone(),
        updated_at: component.updated_at,
        revision,
    };
    connection.wait("store the component", async {
        let mut insert = connection
            .client()
            .insert::<ComponentRow>("components")
            .await?;
        insert.write(&row).await?;
        insert.end().await
    })
}

pub fn remove_component(
    connection: &Connection,
    namespace: &str,
    name: &str,
    revision: u64,
) -> Result<(), StoreError> {
    let tombstone = ComponentRecord {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        status: REMOVED.to_owned(),
        ..Default::default()
    };
    upsert_component(connection, &tombstone, revision)
}

pub fn list_components(
    connection: &Connection,
    namespace: Option<&str>,
) -> Result<Vec<ComponentRecord>, StoreError> {
    // An empty filter means none, as in the DuckDB store.
    let statement = match namespace.filter(|n| !n.is_empty()) {
        Some(namespace) => connection
            .query(
                "SELECT ?fields FROM components FINAL WHERE namespace = ? ORDER BY namespace, name",
            )
            .bind(namespace),
        None => connection.query("SELECT ?fields FROM components FINAL ORDER BY namespace, name"),
    };
    let rows = connection.wait("list components", statement.fetch_all::<ComponentRow>())?;
    Ok(rows
        .into_iter()
        .filter(|row| row.status != REMOVED)
        .map(|row| ComponentRecord {
            namespace: row.namespace,
            name: row.name,
            kind: row.kind,
            version: row.version,
            pods: row.pods,
            ready_pods: row.ready_pods,
            restarts: row.restarts,
            status: row.status,
            started_at: row.started_at,
            ports: row.ports,
            updated_at: row.updated_at,
        })
        .collect())
}

#[derive(Row, Serialize, Deserialize)]
struct EventRow {
    time: i64,
    kind: String,
    component: String,
    namespace: String,
    message: String,
}

pub fn record_event(connection: &Connection, event: &EventRecord) -> Result<(), StoreError> {
    let row = EventRow {
        time: event.time,
        kind: event.kind.clone(),
        component: event.component.clone(),
        namespace: event.namespace.clone(),
        message: event.message.clone(),
    };
    connection.wait("record the event", async {
        let mut insert = connection.client().insert::<EventRow>("events").await?;
        insert.write(&row).await?;
        insert.end().await
    })
}

pub fn list_events(
    connection: &Connection,
    query: &EventQuery,
) -> Result<Vec<EventRecord>, StoreError> {
    let statement = match query.component.as_deref().filter(|c| !c.is_empty()) {
        Some(component) => connection
            .query("SELECT ?fields FROM events WHERE time >= ? AND component = ? ORDER BY time DESC LIMIT ?")
            .bind(query.from)
            .bind(component)
            .bind(query.limit),
        None => connection
            .query("SELECT ?fields FROM events WHERE time >= ? ORDER BY time DESC LIMIT ?")
            .bind(query.from)
            .bind(query.limit),
    };
    let rows = connection.wait("list events", statement.fetch_all::<EventRow>())?;
    Ok(rows
        .into_iter()
        .map(|row| EventRecord {
            time: row.time,
            kind: row.kind,
            component: row.component,
            namespace: row.namespace,
            message: row.message,
        })
        .collect())
}
