//! Components and events.

use duckdb::{Connection, Row, params};

use super::backend;
use crate::store::{ComponentRecord, EventQuery, EventRecord, StoreError};

pub fn upsert_component(
    connection: &Connection,
    component: &ComponentRecord,
) -> Result<(), StoreError> {
    let ports = component
        .ports
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    connection
        .execute(
            "INSERT INTO components (namespace, name, kind, version, pods, ready_pods, restarts, \
             status, started_at, ports, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (namespace, name) DO UPDATE SET kind = excluded.kind, \
             version = excluded.version, pods = excluded.pods, ready_pods = excluded.ready_pods, \
             restarts = excluded.restarts, status = excluded.status, \
             started_at = excluded.started_at, ports = excluded.ports, \
             updated_at = excluded.updated_at",
            params![
                component.namespace,
                component.name,
                component.kind,
                component.version,
                component.pods,
                component.ready_pods,
                component.restarts,
                component.status,
                component.started_at,
                ports,
                component.updated_at
            ],
        )
        .map_err(backend)?;
    Ok(())
}

pub fn remove_component(
    connection: &Connection,
    namespace: &str,
    name: &str,
) -> Result<(), StoreError> {
    connection
        .execute(
            "DELETE FROM components WHERE namespace = ? AND name = ?",
            params![namespace, name],
        )
        .map_err(backend)?;
    Ok(())
}

fn component_from_row(row: &Row<'_>) -> duckdb::Result<ComponentRecord> {
    let ports: String = row.get(9)?;
    Ok(ComponentRecord {
        namespace: row.get(0)?,
        name: row.get(1)?,
        kind: row.get(2)?,
        version: row.get(3)?,
        pods: row.get(4)?,
        ready_pods: row.get(5)?,
        restarts: row.get(6)?,
        status: row.get(7)?,
        started_at: row.get(8)?,
        ports: ports.split(',').filter_map(|p| p.parse().ok()).collect(),
        updated_at: row.get(10)?,
    })
}

pub fn list_components(
    connection: &Connection,
    namespace: Option<&str>,
) -> Result<Vec<ComponentRecord>, StoreError> {
    let mut statement = connection
        .prepare(
            "SELECT namespace, name, kind, version, pods, ready_pods, restarts, status, \
             started_at, ports, updated_at FROM components \
             WHERE ? = '' OR namespace = ? ORDER BY namespace, name",
        )
        .map_err(backend)?;
    let namespace = namespace.unwrap_or("");
    let rows = statement
        .query_map([namespace, namespace], component_from_row)
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub fn record_event(connection: &Connection, event: &EventRecord) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO events (time, kind, component, namespace, message) VALUES (?, ?, ?, ?, ?)",
            params![
                event.time,
                event.kind,
                event.component,
                event.namespace,
                event.message
            ],
        )
        .map_err(backend)?;
    Ok(())
}

pub fn list_events(
    connection: &Connection,
    query: &EventQuery,
) -> Result<Vec<EventRecord>, StoreError> {
    let mut statement = connection
        .prepare(
            "SELECT time, kind, component, namespace, message FROM events \
             WHERE time >= ? AND (? = '' OR component = ?) \
             ORDER BY time DESC LIMIT ?",
        )
        .map_err(backend)?;
    let component = query.component.as_deref().unwrap_or("");
    let rows = statement
        .query_map(
            params![query.from, component, component, query.limit],
            |row| {
                Ok(EventRecord {
                    time: row.get(0)?,
                    kind: row.get(1)?,
                    component: row.get(2)?,
                    namespace: row.get(3)?,
                    message: row.get(4)?,
                })
            },
        )
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
