//! Upgrades files written before edges were numbered, whose rollup tables
//! held the six names and the port on every row: their edges go into
//! `edges` and the rollups are rewritten with numbers, in one transaction,
//! so an interrupted upgrade leaves the old file as it was.

use duckdb::Connection;

use super::backend;
use crate::store::StoreError;

const KEY_COLUMNS: &str =
    "src_namespace, src_workload, src_kind, dst_namespace, dst_workload, dst_kind, port";
const COUNTERS: &str =
    "connections, failed, resets, bytes_sent, bytes_received, rtt_us_sum, rtt_samples";

/// Rollup tables and their time column.
const ROLLUPS: [(&str, &str); 2] = [("edge_minutes", "minute"), ("edge_hours", "hour")];

/// Numbers the edges of old rollup tables; a no-op on current files.
/// Returns the tables rewritten.
pub fn number_edges(
    connection: &mut Connection,
    schema: &str,
) -> Result<Vec<&'static str>, StoreError> {
    let mut old = Vec::new();
    for (table, time) in ROLLUPS {
        if has_named_edges(connection, table)? {
            old.push((table, time));
        }
    }
    if old.is_empty() {
        return Ok(Vec::new());
    }
    let tx = connection.transaction().map_err(backend)?;
    // Creates `edges` (the other tables already exist).
    tx.execute_batch(schema).map_err(backend)?;
    for (table, time) in &old {
        tx.execute_batch(&format!(
            "INSERT INTO edges SELECT (SELECT coalesce(max(edge_id) + 1, 0) FROM edges) \
                 + row_number() OVER (ORDER BY {KEY_COLUMNS}) - 1, * \
             FROM (SELECT DISTINCT {KEY_COLUMNS} FROM {table} \
                   EXCEPT SELECT {KEY_COLUMNS} FROM edges);
             CREATE TABLE {table}_numbered AS SELECT {time}, edge_id, {COUNTERS} \
                 FROM {table} JOIN edges USING ({KEY_COLUMNS}) ORDER BY {time};
             DROP TABLE {table};
             ALTER TABLE {table}_numbered RENAME TO {table};"
        ))
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(old.into_iter().map(|(table, _)| table).collect())
}

fn has_named_edges(connection: &Connection, table: &str) -> Result<bool, StoreError> {
    let columns: i64 = connection
        .query_row(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = ? AND column_name = 'src_namespace'",
            [table],
            |row| row.get(0),
        )
        .map_err(backend)?;
    Ok(columns > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::duckdb::{DuckDbStore, FILE_NAME};
    use crate::store::{Store, TopologyQuery};

    /// The rollup tables as they were before edges were numbered.
    const OLD_ROLLUPS: &str = "
        CREATE TABLE edge_minutes (minute BIGINT NOT NULL, src_namespace VARCHAR NOT NULL,
            src_workload VARCHAR NOT NULL, src_kind VARCHAR NOT NULL,
            dst_namespace VARCHAR NOT NULL, dst_workload VARCHAR NOT NULL,
            dst_kind VARCHAR NOT NULL, port UINTEGER NOT NULL, connections UBIGINT NOT NULL,
            failed UBIGINT NOT NULL, resets UBIGINT NOT NULL, bytes_sent UBIGINT NOT NULL,
            bytes_received UBIGINT NOT NULL, rtt_us_sum UBIGINT NOT NULL,
            rtt_samples UBIGINT NOT NULL);
        CREATE TABLE edge_hours AS SELECT minute AS hour, * EXCLUDE (minute) FROM edge_minutes;
        INSERT INTO edge_minutes VALUES
            (7200, 'shop', 'web', 'Deployment', 'shop', 'api', 'Deployment', 80, 3, 1, 0, 10, 20, 600, 2),
            (7260, 'shop', 'web', 'Deployment', 'shop', 'api', 'Deployment', 80, 2, 0, 0, 5, 5, 0, 0),
            (7260, 'shop', 'api', 'Deployment', 'shop', 'db', 'StatefulSet', 5432, 4, 0, 1, 1, 1, 0, 0);
        INSERT INTO edge_hours VALUES
            (0, 'shop', 'web', 'Deployment', 'shop', 'api', 'Deployment', 80, 10, 0, 0, 0, 0, 0, 0),
            (3600, 'x', 'batch', 'Job', '', '1.2.3.4', 'External', 443, 1, 0, 0, 0, 0, 0, 0);
    ";

    #[test]
    fn old_files_keep_their_rollups() {
        let dir = tempfile::tempdir().unwrap();
        {
            let connection = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            connection.execute_batch(OLD_ROLLUPS).unwrap();
        }
        let store = DuckDbStore::open(dir.path()).expect("the old file opens");
        let all = |from| {
            store
                .topology(&TopologyQuery {
                    from,
                    to: 10_000,
                    namespace: None,
                    include_external: true,
                })
                .unwrap()
        };
        let totals = all(0);
        let summary: Vec<_> = totals
            .iter()
            .map(|t| {
                (
                    t.key.destination.name.as_str(),
                    t.key.port,
                    t.stats.connections,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![("db", 5432, 4), ("api", 80, 15), ("1.2.3.4", 443, 1)]
        );
        let web_api = &totals[1];
        assert_eq!(
            (web_api.stats.rtt_us_sum, web_api.stats.rtt_samples),
            (600, 2)
        );
        // Minutes after the hourly rows' watermark (7200) come from minutes.
        assert_eq!(all(7_200).len(), 2);
        drop(store);
        // A second open finds nothing to upgrade and the same data.
        let store = DuckDbStore::open(dir.path()).unwrap();
        let again = store
            .topology(&TopologyQuery {
                from: 0,
                to: 10_000,
                namespace: None,
                include_external: true,
            })
            .unwrap();
        assert_eq!(again, totals);
    }
}
