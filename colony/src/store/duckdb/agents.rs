//! Agents and their mesh host numbers.

use duckdb::{Connection, OptionalExt, Row, params};

use super::backend;
use crate::store::{AgentEnrollment, AgentRecord, Enrolled, StoreError};

const AGENT_COLUMNS: &str = "a.agent_id, a.node_name, a.pubkey, coalesce(m.host, 0), a.version, \
     a.enrolled_at, a.last_seen, a.last_sequence";

fn agent_from_row(row: &Row<'_>) -> duckdb::Result<AgentRecord> {
    Ok(AgentRecord {
        agent_id: row.get(0)?,
        node_name: row.get(1)?,
        pubkey: row.get(2)?,
        mesh_host: row.get(3)?,
        version: row.get(4)?,
        enrolled_at: row.get(5)?,
        last_seen: row.get(6)?,
        last_sequence: row.get(7)?,
    })
}

pub fn enroll(
    connection: &mut Connection,
    enrollment: &AgentEnrollment,
    max_host: u32,
) -> Result<Enrolled, StoreError> {
    let tx = connection.transaction().map_err(backend)?;
    let existing: Option<u32> = tx
        .query_row(
            "SELECT host FROM mesh_hosts WHERE pubkey = ?",
            [&enrollment.pubkey],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    let (mesh_host, new_key) = match existing {
        Some(host) => (host, false),
        None => {
            // Lowest free host number from 2 (1 is the colony itself).
            let free: u32 = tx
                .query_row(
                    "SELECT min(h) FROM (SELECT 2::UINTEGER AS h UNION ALL \
                     SELECT host + 1 FROM mesh_hosts) \
                     WHERE h NOT IN (SELECT host FROM mesh_hosts)",
                    [],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if free > max_host {
                return Err(StoreError::MeshFull {
                    capacity: max_host.saturating_sub(1),
                });
            }
            tx.execute(
                "INSERT INTO mesh_hosts (pubkey, host, assigned_at) VALUES (?, ?, ?)",
                params![enrollment.pubkey, free, enrollment.at],
            )
            .map_err(backend)?;
            (free, true)
        }
    };
    tx.execute(
        "INSERT INTO agents (agent_id, node_name, pubkey, version, endpoint, enrolled_at, last_seen) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (agent_id) DO UPDATE SET node_name = excluded.node_name, \
         pubkey = excluded.pubkey, version = excluded.version, endpoint = excluded.endpoint, \
         enrolled_at = excluded.enrolled_at, last_seen = excluded.last_seen",
        params![
            enrollment.agent_id,
            enrollment.node_name,
            enrollment.pubkey,
            enrollment.version,
            enrollment.endpoint,
            enrollment.at,
            enrollment.at
        ],
    )
    .map_err(backend)?;
    let last_sequence: u64 = tx
        .query_row(
            "SELECT last_sequence FROM agents WHERE agent_id = ?",
            [&enrollment.agent_id],
            |row| row.get(0),
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(Enrolled {
        mesh_host,
        last_sequence,
        new_key,
    })
}

pub fn touch(connection: &Connection, agent_id: &str, at: i64) -> Result<bool, StoreError> {
    let changed = connection
        .execute(
            "UPDATE agents SET last_seen = greatest(last_seen, ?) WHERE agent_id = ?",
            params![at, agent_id],
        )
        .map_err(backend)?;
    Ok(changed > 0)
}

pub fn get(connection: &Connection, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
    connection
        .query_row(
            &format!(
                "SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN mesh_hosts m ON m.pubkey = a.pubkey \
                 WHERE a.agent_id = ?"
            ),
            [agent_id],
            agent_from_row,
        )
        .optional()
        .map_err(backend)
}

pub fn list(connection: &Connection) -> Result<Vec<AgentRecord>, StoreError> {
    let mut statement = connection
        .prepare(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents a LEFT JOIN mesh_hosts m ON m.pubkey = a.pubkey \
             ORDER BY a.agent_id"
        ))
        .map_err(backend)?;
    let rows = statement.query_map([], agent_from_row).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
