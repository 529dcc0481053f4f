//! Agents, their mesh host numbers and their activity (last seen, last
//! stored batch). Three small tables read separately and joined here: JOIN
//! syntax and defaults differ between ClickHouse 18.16 and current ones.

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::connection::Connection;
use crate::store::{AgentEnrollment, AgentRecord, Enrolled, StoreError};

#[derive(Row, Serialize, Deserialize)]
struct AgentRow {
    agent_id: String,
    node_name: String,
    pubkey: String,
    version: String,
    endpoint: String,
    enrolled_at: i64,
    revision: u64,
}

#[derive(Row, Serialize, Deserialize)]
struct MeshHostRow {
    pubkey: String,
    host: u32,
    assigned_at: i64,
}

#[derive(Row, Deserialize)]
struct ActivityRow {
    agent_id: String,
    last_seen: i64,
    last_sequence: u64,
}

const ACTIVITY: &str = "SELECT agent_id, maxMerge(last_seen), maxMerge(last_sequence) \
     FROM agent_activity";

/// Raise the agent's last_seen / last_sequence to at least these values.
pub fn record_activity(
    connection: &Connection,
    agent_id: &str,
    seen: i64,
    sequence: u64,
) -> Result<(), StoreError> {
    connection.wait(
        "record agent activity",
        connection
            .query(
                "INSERT INTO agent_activity (agent_id, last_seen, last_sequence) \
                 SELECT ?, maxState(toInt64(?)), maxState(toUInt64(?))",
            )
            .bind(agent_id)
            .bind(seen)
            .bind(sequence)
            .execute(),
    )
}

fn activity(connection: &Connection, agent_id: &str) -> Result<Option<ActivityRow>, StoreError> {
    connection.wait(
        "read agent activity",
        connection
            .query(&format!("{ACTIVITY} WHERE agent_id = ? GROUP BY agent_id"))
            .bind(agent_id)
            .fetch_optional::<ActivityRow>(),
    )
}

/// The caller serializes enrollments (see `ClickHouseStore::enroll_lock`):
/// finding the lowest free host and taking it is two statements.
pub fn enroll(
    connection: &Connection,
    enrollment: &AgentEnrollment,
    max_host: u32,
    revision: u64,
) -> Result<Enrolled, StoreError> {
    let existing = connection.wait(
        "look up the mesh host",
        connection
            .query("SELECT host FROM mesh_hosts FINAL WHERE pubkey = ?")
            .bind(enrollment.pubkey.as_str())
            .fetch_optional::<u32>(),
    )?;
    let (mesh_host, new_key) = match existing {
        Some(host) => (host, false),
        None => {
            let taken = connection.wait(
                "list mesh hosts",
                connection
                    .query("SELECT host FROM mesh_hosts FINAL ORDER BY host")
                    .fetch_all::<u32>(),
            )?;
            let free = lowest_free_host(&taken);
            if free > max_host {
                return Err(StoreError::MeshFull {
                    capacity: max_host.saturating_sub(1),
                });
            }
            let row = MeshHostRow {
                pubkey: enrollment.pubkey.clone(),
                host: free,
                assigned_at: enrollment.at,
            };
            connection.wait("assign a mesh host", async {
                let mut insert = connection
                    .client()
                    .insert::<MeshHostRow>("mesh_hosts")
                    .await?;
                insert.write(&row).await?;
                insert.end().await
            })?;
            (free, true)
        }
    };
    let row = AgentRow {
        agent_id: enrollment.agent_id.clone(),
        node_name: enrollment.node_name.clone(),
        pubkey: enrollment.pubkey.clone(),
        version: enrollment.version.clone(),
        endpoint: enrollment.endpoint.clone(),
        enrolled_at: enrollment.at,
        revision,
    };
    connection.wait("record the agent", async {
        let mut insert = connection.client().insert::<AgentRow>("agents").await?;
        insert.write(&row).await?;
        insert.end().await
    })?;
    record_activity(connection, &enrollment.agent_id, enrollment.at, 0)?;
    let last_sequence = activity(connection, &enrollment.agent_id)?.map_or(0, |a| a.last_sequence);
    Ok(Enrolled {
        mesh_host,
        last_sequence,
        new_key,
    })
}

/// The lowest number from 2 (1 is the colony) not in `taken` (sorted).
fn lowest_free_host(taken: &[u32]) -> u32 {
    let mut candidate = 2;
    for &host in taken {
        if host == candidate {
            candidate += 1;
        } else if host > candidate {
            break;
        }
    }
    candidate
}

pub fn touch(connection: &Connection, agent_id: &str, at: i64) -> Result<bool, StoreError> {
    let known = connection.count(
        "look up the agent",
        connection
            .query("SELECT count() FROM agents WHERE agent_id = ?")
            .bind(agent_id),
    )?;
    if known == 0 {
        return Ok(false);
    }
    record_activity(connection, agent_id, at, 0)?;
    Ok(true)
}

pub fn get(connection: &Connection, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
    let row = connection.wait(
        "read the agent",
        connection
            .query("SELECT ?fields FROM agents FINAL WHERE agent_id = ?")
            .bind(agent_id)
            .fetch_optional::<AgentRow>(),
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let host = connection.wait(
        "look up the mesh host",
        connection
            .query("SELECT host FROM mesh_hosts FINAL WHERE pubkey = ?")
            .bind(row.pubkey.as_str())
            .fetch_optional::<u32>(),
    )?;
    let activity = activity(connection, agent_id)?;
    Ok(Some(record(row, host, activity.as_ref())))
}

pub fn list(connection: &Connection) -> Result<Vec<AgentRecord>, StoreError> {
    let rows = connection.wait(
        "list agents",
        connection
            .query("SELECT ?fields FROM agents FINAL ORDER BY agent_id")
            .fetch_all::<AgentRow>(),
    )?;
    let hosts: HashMap<String, u32> = connection
        .wait(
            "list mesh hosts",
            connection
                .query("SELECT ?fields FROM mesh_hosts FINAL")
                .fetch_all::<MeshHostRow>(),
        )?
        .into_iter()
        .map(|h| (h.pubkey, h.host))
        .collect();
    let activity: HashMap<String, ActivityRow> = connection
        .wait(
            "list agent activity",
            connection
                .query(&format!("{ACTIVITY} GROUP BY agent_id"))
                .fetch_all::<ActivityRow>(),
        )?
        .into_iter()
        .map(|a| (a.agent_id.clone(), a))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let host = hosts.get(&row.pubkey).copied();
            let seen = activity.get(&row.agent_id);
            record(row, host, seen)
        })
        .collect())
}

fn record(row: AgentRow, host: Option<u32>, activity: Option<&ActivityRow>) -> AgentRecord {
    AgentRecord {
        mesh_host: host.unwrap_or(0),
        last_seen: activity.map_or(row.enrolled_at, |a| a.last_seen),
        last_sequence: activity.map_or(0, |a| a.last_sequence),
        agent_id: row.agent_id,
        node_name: row.node_name,
        pubkey: row.pubkey,
        version: row.version,
        enrolled_at: row.enrolled_at,
    }
}

#[cfg(test)]
mod tests {
    use super::lowest_free_host;

    #[test]
    fn lowest_free_host_fills_gaps() {
        assert_eq!(lowest_free_host(&[]), 2);
        assert_eq!(lowest_free_host(&[2, 3]), 4);
        assert_eq!(lowest_free_host(&[2, 4]), 3);
        assert_eq!(lowest_free_host(&[3, 4]), 2);
    }
}
