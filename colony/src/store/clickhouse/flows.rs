//! Flow rollups: idempotent batch writes, the topology / series reads over
//! minute and hourly rows, and the fold of old minutes into hours.
//!
//! # Idempotency without transactions
//!
//! ClickHouse cannot write the rows and the ledger entry atomically, and
//! block deduplication (`insert_deduplication_token`) is neither in 18.16
//! nor on non-replicated tables of most versions. So a batch is made safe
//! to write any number of times instead:
//!
//! 1. every rollup row carries its batch's `(agent_id, sequence)` at the
//!    end of the `edge_minutes` sorting key (a ReplacingMergeTree), and a
//!    batch holds at most one row per (minute, edge) (merged here), so a
//!    second copy of a batch has exactly the keys of the first;
//! 2. every read of `edge_minutes` uses `FINAL`, which keeps one row per
//!    key: copies of a batch count once, different batches add up;
//! 3. the ledger (`applied_batches`) is checked first, so a retry of a
//!    stored batch writes nothing and is answered `Duplicate`; it is
//!    written after the rows, so a crash in between leaves rows without a
//!    ledger entry, and the agent's retry writes the same rows again
//!    (harmless by 2) and then the entry.
//!
//! Two copies of one batch arriving at the same time may both be answered
//! `Applied`, but are still counted once.

use std::collections::HashMap;
use std::sync::Arc;

use clickhouse::Row;
use serde::{Deserialize, Serialize};

use super::agents;
use super::connection::Connection;
use crate::store::resolution::{self, HOUR, Table};
use crate::store::{
    BatchId, BatchOutcome, EXTERNAL_KIND, EdgeKey, EdgeMinute, EdgeStats, EdgeTotal, SeriesPoint,
    SeriesQuery, StoreError, TopologyQuery, WorkloadRef,
};

#[derive(Row, Serialize)]
struct EdgeRow<'a> {
    minute: i64,
    src_namespace: &'a str,
    src_workload: &'a str,
    src_kind: &'a str,
    dst_namespace: &'a str,
    dst_workload: &'a str,
    dst_kind: &'a str,
    port: u32,
    agent_id: &'a str,
    sequence: u64,
    connections: u64,
    failed: u64,
    resets: u64,
    bytes_sent: u64,
    bytes_received: u64,
    rtt_us_sum: u64,
    rtt_samples: u64,
}

#[derive(Row, Serialize)]
struct LedgerRow<'a> {
    agent_id: &'a str,
    sequence: u64,
    received_at: i64,
    rows: u32,
}

pub fn apply_batch(
    connection: &Connection,
    batch: &BatchId,
    rows: &[EdgeMinute],
) -> Result<BatchOutcome, StoreError> {
    let seen = connection.count(
        "check the batch ledger",
        connection
            .query("SELECT count() FROM applied_batches WHERE agent_id = ? AND sequence = ?")
            .bind(batch.agent_id.as_str())
            .bind(batch.sequence),
    )?;
    if seen > 0 {
        return Ok(BatchOutcome::Duplicate);
    }
    write_rows(connection, batch, rows)?;
    let ledger = LedgerRow {
        agent_id: &batch.agent_id,
        sequence: batch.sequence,
        received_at: batch.received_at,
        rows: u32::try_from(rows.len()).unwrap_or(u32::MAX),
    };
    connection.wait("record the batch", async {
        let mut insert = connection
            .client()
            .insert::<LedgerRow<'_>>("applied_batches")
            .await?;
        insert.write(&ledger).await?;
        insert.end().await
    })?;
    agents::record_activity(
        connection,
        &batch.agent_id,
        batch.received_at,
        batch.sequence,
    )?;
    Ok(BatchOutcome::Applied)
}

/// Step 1 of `apply_batch`: the rollup rows, tagged with the batch, one
/// per (minute, edge). Public to the backend so tests can simulate a
/// crash before the ledger entry.
pub(super) fn write_rows(
    connection: &Connection,
    batch: &BatchId,
    rows: &[EdgeMinute],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let merged = merge_duplicate_keys(rows);
    connection.wait("store rollup rows", async {
        let mut insert = connection
            .client()
            .insert::<EdgeRow<'_>>("edge_minutes")
            .await?;
        for (minute, key, stats) in &merged {
            insert
                .write(&EdgeRow {
                    minute: *minute,
                    src_namespace: &key.source.namespace,
                    src_workload: &key.source.name,
                    src_kind: &key.source.kind,
                    dst_namespace: &key.destination.namespace,
                    dst_workload: &key.destination.name,
                    dst_kind: &key.destination.kind,
                    port: key.port,
                    agent_id: &batch.agent_id,
                    sequence: batch.sequence,
                    connections: stats.connections,
                    failed: stats.failed,
                    resets: stats.resets,
                    bytes_sent: stats.bytes_sent,
                    bytes_received: stats.bytes_received,
                    rtt_us_sum: stats.rtt_us_sum,
                    rtt_samples: stats.rtt_samples,
                })
                .await?;
        }
        insert.end().await
    })
}

/// One entry per (minute, edge), in the order first seen: rows sharing a
/// key would otherwise collapse into one under FINAL.
fn merge_duplicate_keys(rows: &[EdgeMinute]) -> Vec<(i64, &EdgeKey, EdgeStats)> {
    let mut merged: Vec<(i64, &EdgeKey, EdgeStats)> = Vec::with_capacity(rows.len());
    let mut index: HashMap<(i64, &EdgeKey), usize> = HashMap::with_capacity(rows.len());
    for row in rows {
        match index.get(&(row.minute, &row.key)) {
            Some(&at) => merged[at].2.add(&row.stats),
            None => {
                index.insert((row.minute, &row.key), merged.len());
                merged.push((row.minute, &row.key, row.stats));
            }
        }
    }
    merged
}

/// What a read of `table` selects from: minute rows with FINAL, so copies
/// of a batch collapse (see the module docs).
fn source(table: Table) -> &'static str {
    match table {
        Table::Minutes => "edge_minutes FINAL",
        Table::Hours => "edge_hours",
    }
}

#[derive(Row, Deserialize)]
struct NewestHour {
    hours: u64,
    newest: i64,
}

/// The end of the newest folded hour (0 when none).
fn watermark(connection: &Connection) -> Result<i64, StoreError> {
    let row = connection.wait(
        "read the hourly watermark",
        connection
            .query("SELECT count() AS hours, max(hour) AS newest FROM edge_hours")
            .fetch_one::<NewestHour>(),
    )?;
    Ok(resolution::watermark((row.hours > 0).then_some(row.newest)))
}

/// Folds minute rows before `before` (an hour boundary) into hourly rows,
/// then deletes them. The fold starts at the watermark, so a fold cut short
/// (before the delete) is not repeated for the hours it wrote. Returns
/// (minute rows folded, hourly rows written).
pub fn fold_into_hours(connection: &Connection, before: i64) -> Result<(u64, u64), StoreError> {
    let before = resolution::hour_floor(before);
    let from = watermark(connection)?;
    let mut written = 0;
    if from < before {
        let hours_before = hour_count(connection)?;
        connection.wait(
            "fold minute rollups into hours",
            connection
                .query(&format!(
                    "INSERT INTO edge_hours (hour, {EDGE_COLUMNS}, connections, failed, resets, \
                     bytes_sent, bytes_received, rtt_us_sum, rtt_samples) \
                     SELECT intDiv(minute, {HOUR}) * {HOUR} AS hour, {EDGE_COLUMNS}, {SUMS} \
                     FROM edge_minutes FINAL WHERE minute >= ? AND minute < ? \
                     GROUP BY hour, {EDGE_COLUMNS}"
                ))
                .bind(from)
                .bind(before)
                .execute(),
        )?;
        written = hour_count(connection)?.saturating_sub(hours_before);
    }
    let folded = connection.delete_before("edge_minutes", "minute", before, true)?;
    Ok((folded, written))
}

fn hour_count(connection: &Connection) -> Result<u64, StoreError> {
    connection.count(
        "count hourly rows",
        connection.query("SELECT count() FROM edge_hours"),
    )
}

/// The counters of a row read back (a struct cannot be flattened into a
/// RowBinary row, so each row type lists them).
macro_rules! stats_of {
    ($row:expr) => {
        EdgeStats {
            connections: $row.connections,
            failed: $row.failed,
            resets: $row.resets,
            bytes_sent: $row.bytes_sent,
            bytes_received: $row.bytes_received,
            rtt_us_sum: $row.rtt_us_sum,
            rtt_samples: $row.rtt_samples,
        }
    };
}

/// Sums of the counters, in `EdgeStats` field order.
const SUMS: &str = "sum(connections), sum(failed), sum(resets), sum(bytes_sent), \
     sum(bytes_received), sum(rtt_us_sum), sum(rtt_samples)";

#[derive(Row, Deserialize)]
struct TotalRow {
    src_namespace: String,
    src_workload: String,
    src_kind: String,
    dst_namespace: String,
    dst_workload: String,
    dst_kind: String,
    port: u32,
    last_minute: i64,
    connections: u64,
    failed: u64,
    resets: u64,
    bytes_sent: u64,
    bytes_received: u64,
    rtt_us_sum: u64,
    rtt_samples: u64,
}

const EDGE_COLUMNS: &str =
    "src_namespace, src_workload, src_kind, dst_namespace, dst_workload, dst_kind, port";

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
    let (source, time) = (source(table), table.time_column());
    let mut sql = format!(
        "SELECT {EDGE_COLUMNS}, max({time}), {SUMS} FROM {source} \
         WHERE {time} >= ? AND {time} < ?"
    );
    // An empty namespace means all, as in the DuckDB store.
    let namespace = query.namespace.as_deref().filter(|n| !n.is_empty());
    if namespace.is_some() {
        sql.push_str(" AND (src_namespace = ? OR dst_namespace = ?)");
    }
    if !query.include_external {
        sql.push_str(" AND dst_kind != ?");
    }
    // Sorted here, not by the server: on 18.16 an ORDER BY over the seven
    // key columns costs more than the aggregation.
    sql.push_str(&format!(" GROUP BY {EDGE_COLUMNS}"));
    let mut statement = connection.query(&sql).bind(from).bind(to);
    if let Some(namespace) = namespace {
        statement = statement.bind(namespace).bind(namespace);
    }
    if !query.include_external {
        statement = statement.bind(EXTERNAL_KIND);
    }
    let rows = connection.wait("read the topology", statement.fetch_all::<TotalRow>())?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (key, stats, last_minute) = row.into_parts();
            EdgeTotal {
                key: Arc::new(key),
                stats,
                last_minute,
            }
        })
        .collect())
}

impl TotalRow {
    /// The edge, its sums and the newest time (or the minute) of the row.
    fn into_parts(self) -> (EdgeKey, EdgeStats, i64) {
        let stats = stats_of!(self);
        let key = EdgeKey {
            source: WorkloadRef {
                namespace: self.src_namespace,
                name: self.src_workload,
                kind: self.src_kind,
            },
            destination: WorkloadRef {
                namespace: self.dst_namespace,
                name: self.dst_workload,
                kind: self.dst_kind,
            },
            port: self.port,
        };
        (key, stats, self.last_minute)
    }
}

/// Minute rows from `from` on, one per minute and edge.
pub fn minute_rows(connection: &Connection, from: i64) -> Result<Vec<EdgeMinute>, StoreError> {
    // `TotalRow` with the minute in the place of the last minute.
    let sql = format!(
        "SELECT {EDGE_COLUMNS}, minute, {SUMS} FROM edge_minutes FINAL \
         WHERE minute >= ? GROUP BY minute, {EDGE_COLUMNS}"
    );
    let statement = connection.query(&sql).bind(from);
    let rows = connection.wait("read recent minutes", statement.fetch_all::<TotalRow>())?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (key, stats, minute) = row.into_parts();
            EdgeMinute { minute, key, stats }
        })
        .collect())
}

#[derive(Row, Deserialize)]
struct PointRow {
    minute: i64,
    connections: u64,
    failed: u64,
    resets: u64,
    bytes_sent: u64,
    bytes_received: u64,
    rtt_us_sum: u64,
    rtt_samples: u64,
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
    let (source, time) = (source(table), table.time_column());
    let statement = connection
        .query(&format!(
            "SELECT {time} AS minute, {SUMS} FROM {source} \
             WHERE src_namespace = ? AND src_workload = ? AND dst_namespace = ? \
             AND dst_workload = ? AND {time} >= ? AND {time} < ? \
             GROUP BY minute ORDER BY minute"
        ))
        .bind(query.source.0.as_str())
        .bind(query.source.1.as_str())
        .bind(query.destination.0.as_str())
        .bind(query.destination.1.as_str())
        .bind(from)
        .bind(to);
    let rows = connection.wait("read the edge series", statement.fetch_all::<PointRow>())?;
    Ok(rows
        .into_iter()
        .map(|row| SeriesPoint {
            minute: row.minute,
            stats: stats_of!(row),
        })
        .collect())
}
