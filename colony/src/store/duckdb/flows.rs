//! Flow rollups: idempotent batch writes, the topology / series reads over
//! minute and hourly rows, and the fold of old minutes into hours.

use duckdb::{Connection, OptionalExt, Row, params};

use super::backend;
use crate::store::resolution::{self, HOUR, Table};
use crate::store::{
    BatchId, BatchOutcome, EXTERNAL_KIND, EdgeKey, EdgeMinute, EdgeStats, EdgeTotal, SeriesPoint,
    SeriesQuery, StoreError, TopologyQuery, WorkloadRef,
};

/// The end of the newest folded hour (0 when none).
fn watermark(connection: &Connection) -> Result<i64, StoreError> {
    let newest: Option<i64> = connection
        .query_row("SELECT max(hour) FROM edge_hours", [], |row| row.get(0))
        .map_err(backend)?;
    Ok(resolution::watermark(newest))
}

/// Folds minute rows before `before` (an hour boundary) into hourly rows
/// and deletes them, in one transaction. Returns (minute rows folded,
/// hourly rows written).
pub fn fold_into_hours(connection: &mut Connection, before: i64) -> Result<(u64, u64), StoreError> {
    let before = resolution::hour_floor(before);
    let tx = connection.transaction().map_err(backend)?;
    let from = watermark(&tx)?;
    let written = if from < before {
        tx.execute(
            &format!(
                "INSERT INTO edge_hours SELECT minute // {HOUR} * {HOUR} AS hour, src_namespace, \
                 src_workload, src_kind, dst_namespace, dst_workload, dst_kind, port, {SUMS} \
                 FROM edge_minutes WHERE minute >= ? AND minute < ? GROUP BY ALL"
            ),
            params![from, before],
        )
        .map_err(backend)?
    } else {
        0
    };
    let folded = tx
        .execute("DELETE FROM edge_minutes WHERE minute < ?", params![before])
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok((folded as u64, written as u64))
}

pub fn apply_batch(
    connection: &mut Connection,
    batch: &BatchId,
    rows: &[EdgeMinute],
) -> Result<BatchOutcome, StoreError> {
    let tx = connection.transaction().map_err(backend)?;
    let seen: Option<u64> = tx
        .query_row(
            "SELECT sequence FROM applied_batches WHERE agent_id = ? AND sequence = ?",
            params![batch.agent_id, batch.sequence],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if seen.is_some() {
        return Ok(BatchOutcome::Duplicate);
    }
    {
        // The appender writes inside the open transaction; it must be
        // flushed (dropped) before the commit.
        let mut appender = tx.appender("edge_minutes").map_err(backend)?;
        for row in rows {
            let (key, stats) = (&row.key, &row.stats);
            appender
                .append_row(params![
                    row.minute,
                    key.source.namespace,
                    key.source.name,
                    key.source.kind,
                    key.destination.namespace,
                    key.destination.name,
                    key.destination.kind,
                    key.port,
                    stats.connections,
                    stats.failed,
                    stats.resets,
                    stats.bytes_sent,
                    stats.bytes_received,
                    stats.rtt_us_sum,
                    stats.rtt_samples
                ])
                .map_err(backend)?;
        }
        appender.flush().map_err(backend)?;
    }
    let row_count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    tx.execute(
        "INSERT INTO applied_batches (agent_id, sequence, received_at, rows) VALUES (?, ?, ?, ?)",
        params![batch.agent_id, batch.sequence, batch.received_at, row_count],
    )
    .map_err(backend)?;
    tx.execute(
        "UPDATE agents SET last_sequence = greatest(last_sequence, ?), \
         last_seen = greatest(last_seen, ?) WHERE agent_id = ?",
        params![batch.sequence, batch.received_at, batch.agent_id],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(BatchOutcome::Applied)
}

/// `sum()` of UBIGINT is HUGEINT in DuckDB: cast back.
const SUMS: &str = "CAST(sum(connections) AS UBIGINT), CAST(sum(failed) AS UBIGINT), \
     CAST(sum(resets) AS UBIGINT), CAST(sum(bytes_sent) AS UBIGINT), \
     CAST(sum(bytes_received) AS UBIGINT), CAST(sum(rtt_us_sum) AS UBIGINT), \
     CAST(sum(rtt_samples) AS UBIGINT)";

fn stats_from_row(row: &Row<'_>, first: usize) -> duckdb::Result<EdgeStats> {
    Ok(EdgeStats {
        connections: row.get(first)?,
        failed: row.get(first + 1)?,
        resets: row.get(first + 2)?,
        bytes_sent: row.get(first + 3)?,
        bytes_received: row.get(first + 4)?,
        rtt_us_sum: row.get(first + 5)?,
        rtt_samples: row.get(first + 6)?,
    })
}

pub fn topology(
    connection: &Connection,
    query: &TopologyQuery,
) -> Result<Vec<EdgeTotal>, StoreError> {
    resolution::read_split(
        query.from,
        query.to,
        watermark(connection)?,
        |table, from, to| totals(connection, table, from, to, query),
        resolution::merge_totals,
    )
}

fn totals(
    connection: &Connection,
    table: Table,
    from: i64,
    to: i64,
    query: &TopologyQuery,
) -> Result<Vec<EdgeTotal>, StoreError> {
    let (name, time) = (table.name(), table.time_column());
    let mut statement = connection
        .prepare(&format!(
            "SELECT src_namespace, src_workload, src_kind, dst_namespace, dst_workload, dst_kind, \
             port, max({time}), {SUMS} FROM {name} \
             WHERE {time} >= ? AND {time} < ? \
             AND (? = '' OR src_namespace = ? OR dst_namespace = ?) \
             AND (? OR dst_kind <> '{EXTERNAL_KIND}') \
             GROUP BY ALL ORDER BY ALL"
        ))
        .map_err(backend)?;
    let namespace = query.namespace.as_deref().unwrap_or("");
    let rows = statement
        .query_map(
            params![
                from,
                to,
                namespace,
                namespace,
                namespace,
                query.include_external
            ],
            |row| {
                Ok(EdgeTotal {
                    key: EdgeKey {
                        source: WorkloadRef {
                            namespace: row.get(0)?,
                            name: row.get(1)?,
                            kind: row.get(2)?,
                        },
                        destination: WorkloadRef {
                            namespace: row.get(3)?,
                            name: row.get(4)?,
                            kind: row.get(5)?,
                        },
                        port: row.get(6)?,
                    },
                    last_minute: row.get(7)?,
                    stats: stats_from_row(row, 8)?,
                })
            },
        )
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}

pub fn edge_series(
    connection: &Connection,
    query: &SeriesQuery,
) -> Result<Vec<SeriesPoint>, StoreError> {
    resolution::read_split(
        query.from,
        query.to,
        watermark(connection)?,
        |table, from, to| points(connection, table, from, to, query),
        resolution::merge_series,
    )
}

fn points(
    connection: &Connection,
    table: Table,
    from: i64,
    to: i64,
    query: &SeriesQuery,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let (name, time) = (table.name(), table.time_column());
    let mut statement = connection
        .prepare(&format!(
            "SELECT {time}, {SUMS} FROM {name} \
             WHERE src_namespace = ? AND src_workload = ? AND dst_namespace = ? \
             AND dst_workload = ? AND {time} >= ? AND {time} < ? \
             GROUP BY {time} ORDER BY {time}"
        ))
        .map_err(backend)?;
    let rows = statement
        .query_map(
            params![
                query.source.0,
                query.source.1,
                query.destination.0,
                query.destination.1,
                from,
                to
            ],
            |row| {
                Ok(SeriesPoint {
                    minute: row.get(0)?,
                    stats: stats_from_row(row, 1)?,
                })
            },
        )
        .map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
