//! Flow rollups: idempotent batch writes, the topology / series reads over
//! minute and hourly rows, and the fold of old minutes into hours. Rows
//! carry edge numbers (edge_ids.rs); reads aggregate by number and map the
//! numbers back to edges here.

use std::sync::Arc;

use duckdb::arrow::array::{Array, ArrayRef, Int64Array, UInt64Array};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{Connection, OptionalExt, params};

use super::backend;
use super::edge_ids::{self, EdgeIds};
use crate::store::resolution::{self, HOUR, Table};
use crate::store::{
    BatchId, BatchOutcome, EdgeKey, EdgeMinute, EdgeStats, EdgeTotal, SeriesPoint, SeriesQuery,
    StoreError, TopologyQuery,
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
                "INSERT INTO edge_hours SELECT minute // {HOUR} * {HOUR} AS hour, edge_id, {SUMS} \
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
    edges: &mut EdgeIds,
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
    let numbered = edges.number(rows.iter().map(|row| &row.key));
    edge_ids::store_new_edges(&tx, &numbered)?;
    {
        // The appender writes inside the open transaction; it must be
        // flushed (dropped) before the commit. Whole columns at once
        // (Arrow) rather than value by value: several times faster.
        let mut appender = tx.appender("edge_minutes").map_err(backend)?;
        appender
            .append_record_batch(rollup_columns(rows, &numbered.ids)?)
            .map_err(backend)?;
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
    edges.remember(numbered.new_edges);
    Ok(BatchOutcome::Applied)
}

/// `rows` as the columns of `edge_minutes`, in its order.
fn rollup_columns(rows: &[EdgeMinute], ids: &[u64]) -> Result<RecordBatch, StoreError> {
    let counter = |value: fn(&EdgeStats) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|row| value(&row.stats)),
        ))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "minute",
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|row| row.minute),
            )),
        ),
        ("edge_id", Arc::new(UInt64Array::from(ids.to_vec()))),
        ("connections", counter(|s| s.connections)),
        ("failed", counter(|s| s.failed)),
        ("resets", counter(|s| s.resets)),
        ("bytes_sent", counter(|s| s.bytes_sent)),
        ("bytes_received", counter(|s| s.bytes_received)),
        ("rtt_us_sum", counter(|s| s.rtt_us_sum)),
        ("rtt_samples", counter(|s| s.rtt_samples)),
    ];
    RecordBatch::try_from_iter(columns).map_err(|e| StoreError::Backend(e.to_string()))
}

/// `sum()` of UBIGINT is HUGEINT in DuckDB: cast back.
const SUMS: &str = "CAST(sum(connections) AS UBIGINT), CAST(sum(failed) AS UBIGINT), \
     CAST(sum(resets) AS UBIGINT), CAST(sum(bytes_sent) AS UBIGINT), \
     CAST(sum(bytes_received) AS UBIGINT), CAST(sum(rtt_us_sum) AS UBIGINT), \
     CAST(sum(rtt_samples) AS UBIGINT)";

/// One aggregated row: a group (an edge number or a time), the newest time
/// in it, and its sums.
struct Summed {
    group: i64,
    last: i64,
    stats: EdgeStats,
}

/// Runs `SELECT group, last, <SUMS> …` and reads the answer column-wise
/// (Arrow): reading 20,000 rows value by value costs more than the query.
fn summed(connection: &Connection, sql: &str) -> Result<Vec<Summed>, StoreError> {
    let mut statement = connection.prepare(sql).map_err(backend)?;
    let mut out = Vec::new();
    for batch in statement.query_arrow([]).map_err(backend)? {
        let int = |index: usize| -> Result<&Int64Array, StoreError> { column(&batch, index) };
        let counter = |index: usize| -> Result<&UInt64Array, StoreError> { column(&batch, index) };
        let (group, last) = (int(0)?, int(1)?);
        let sums = (2..9).map(counter).collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            out.push(Summed {
                group: group.value(row),
                last: last.value(row),
                stats: EdgeStats {
                    connections: sums[0].value(row),
                    failed: sums[1].value(row),
                    resets: sums[2].value(row),
                    bytes_sent: sums[3].value(row),
                    bytes_received: sums[4].value(row),
                    rtt_us_sum: sums[5].value(row),
                    rtt_samples: sums[6].value(row),
                },
            });
        }
    }
    Ok(out)
}

fn column<T: 'static>(batch: &RecordBatch, index: usize) -> Result<&T, StoreError> {
    batch
        .column(index)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| StoreError::Backend(format!("unexpected type of result column {index}")))
}

pub fn topology(
    connection: &Connection,
    edges: &EdgeIds,
    query: &TopologyQuery,
) -> Result<Vec<EdgeTotal>, StoreError> {
    resolution::read_split(
        query.from,
        query.to,
        watermark(connection)?,
        |table, from, to| totals(connection, edges, table, from, to, query),
        resolution::merge_totals,
    )
}

fn totals(
    connection: &Connection,
    edges: &EdgeIds,
    table: Table,
    from: i64,
    to: i64,
    query: &TopologyQuery,
) -> Result<Vec<EdgeTotal>, StoreError> {
    let (name, time) = (table.name(), table.time_column());
    // Bounds as literals (they are integers): DuckDB then skips the row
    // groups outside the window, which it does not for parameters.
    let sql = format!(
        "SELECT CAST(edge_id AS BIGINT), max({time}), {SUMS} FROM {name} \
         WHERE {time} >= {from} AND {time} < {to} GROUP BY edge_id ORDER BY edge_id"
    );
    let mut out = Vec::new();
    for row in summed(connection, &sql)? {
        let key = edges.key(row.group as u64)?;
        if query.selects(key) {
            out.push(EdgeTotal {
                key: key.clone(),
                stats: row.stats,
                last_minute: row.last,
            });
        }
    }
    Ok(out)
}

/// Minute rows from `from` on, one per minute and edge.
pub fn minute_rows(
    connection: &Connection,
    edges: &EdgeIds,
    from: i64,
) -> Result<Vec<EdgeMinute>, StoreError> {
    let sql = format!(
        "SELECT CAST(edge_id AS BIGINT), minute, {SUMS} FROM edge_minutes \
         WHERE minute >= {from} GROUP BY edge_id, minute"
    );
    summed(connection, &sql)?
        .into_iter()
        .map(|row| {
            Ok(EdgeMinute {
                minute: row.last,
                key: EdgeKey::clone(edges.key(row.group as u64)?),
                stats: row.stats,
            })
        })
        .collect()
}

pub fn edge_series(
    connection: &Connection,
    edges: &EdgeIds,
    query: &SeriesQuery,
) -> Result<Vec<SeriesPoint>, StoreError> {
    // Every port and kind between the two workloads.
    let ids = edges.matching(|key| {
        (&key.source.namespace, &key.source.name) == (&query.source.0, &query.source.1)
            && (&key.destination.namespace, &key.destination.name)
                == (&query.destination.0, &query.destination.1)
    });
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    resolution::read_split(
        query.from,
        query.to,
        watermark(connection)?,
        |table, from, to| points(connection, table, from, to, &ids),
        resolution::merge_series,
    )
}

fn points(
    connection: &Connection,
    table: Table,
    from: i64,
    to: i64,
    ids: &str,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let (name, time) = (table.name(), table.time_column());
    let sql = format!(
        "SELECT {time}, max({time}), {SUMS} FROM {name} \
         WHERE edge_id IN ({ids}) AND {time} >= {from} AND {time} < {to} \
         GROUP BY {time} ORDER BY {time}"
    );
    Ok(summed(connection, &sql)?
        .into_iter()
        .map(|row| SeriesPoint {
            minute: row.group,
            stats: row.stats,
        })
        .collect())
}
