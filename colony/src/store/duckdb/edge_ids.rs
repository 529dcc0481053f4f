//! The numbering of edges. Each edge (both workloads and the port) is
//! written once to the `edges` table and gets the next number; rollup rows
//! carry only that number. The whole dictionary lives in memory as well,
//! so a batch is numbered without a query and a read maps numbers back to
//! edges without a join. It holds every edge ever reported: tens of
//! thousands for a large application, a few MB.

use std::collections::HashMap;
use std::sync::Arc;

use duckdb::{Connection, params};

use super::backend;
use crate::store::{EdgeKey, StoreError, WorkloadRef};

#[derive(Default)]
pub struct EdgeIds {
    /// `keys[id]` is the edge numbered `id`: numbers are dense from 0.
    keys: Vec<Arc<EdgeKey>>,
    /// foldhash: SipHash was a tenth of the ingest time, and the keys come
    /// from enrolled agents only.
    ids: HashMap<Arc<EdgeKey>, u64, foldhash::fast::RandomState>,
}

/// Numbers for one batch's edges, and the edges numbered for the first
/// time, which must be stored with the batch and then `remember`ed.
pub struct Numbered {
    pub ids: Vec<u64>,
    pub new_edges: Vec<EdgeKey>,
    first_new_id: u64,
}

impl EdgeIds {
    /// Reads the `edges` table.
    pub fn load(connection: &Connection) -> Result<Self, StoreError> {
        let mut statement = connection
            .prepare(
                "SELECT edge_id, src_namespace, src_workload, src_kind, dst_namespace, \
                 dst_workload, dst_kind, port FROM edges ORDER BY edge_id",
            )
            .map_err(backend)?;
        let rows = statement
            .query_map([], |row| {
                let id: u64 = row.get(0)?;
                let key = EdgeKey {
                    source: WorkloadRef {
                        namespace: row.get(1)?,
                        name: row.get(2)?,
                        kind: row.get(3)?,
                    },
                    destination: WorkloadRef {
                        namespace: row.get(4)?,
                        name: row.get(5)?,
                        kind: row.get(6)?,
                    },
                    port: row.get(7)?,
                };
                Ok((id, key))
            })
            .map_err(backend)?;
        let mut edge_ids = Self::default();
        for row in rows {
            let (id, key) = row.map_err(backend)?;
            if id != edge_ids.keys.len() as u64 {
                return Err(StoreError::Backend(format!(
                    "the edges table is damaged: edge {id} follows edge {}",
                    edge_ids.keys.len() as i64 - 1
                )));
            }
            edge_ids.push(key);
        }
        Ok(edge_ids)
    }

    fn push(&mut self, key: EdgeKey) {
        let key = Arc::new(key);
        self.ids.insert(key.clone(), self.keys.len() as u64);
        self.keys.push(key);
    }

    /// Numbers `keys`, giving edges not seen before the next free numbers.
    /// Nothing changes here until `remember`, so a batch that fails to be
    /// stored leaves no number behind.
    pub fn number<'a>(&self, keys: impl Iterator<Item = &'a EdgeKey>) -> Numbered {
        let first_new_id = self.keys.len() as u64;
        let mut pending: HashMap<&EdgeKey, u64, foldhash::fast::RandomState> = HashMap::default();
        let mut new_edges = Vec::new();
        let ids = keys
            .map(|key| match self.ids.get(key) {
                Some(id) => *id,
                None => *pending.entry(key).or_insert_with(|| {
                    new_edges.push(key.clone());
                    first_new_id + new_edges.len() as u64 - 1
                }),
            })
            .collect();
        Numbered {
            ids,
            new_edges,
            first_new_id,
        }
    }

    /// Keeps the numbers of a stored batch's new edges.
    pub fn remember(&mut self, new_edges: Vec<EdgeKey>) {
        for key in new_edges {
            self.push(key);
        }
    }

    pub fn key(&self, id: u64) -> Result<&Arc<EdgeKey>, StoreError> {
        usize::try_from(id)
            .ok()
            .and_then(|index| self.keys.get(index))
            .ok_or_else(|| {
                StoreError::Backend(format!(
                    "a rollup row refers to edge {id}, which is not in the edges table"
                ))
            })
    }

    /// Numbers of the edges `keep` selects.
    pub fn matching(&self, keep: impl Fn(&EdgeKey) -> bool) -> Vec<u64> {
        (0..)
            .zip(&self.keys)
            .filter(|(_, key)| keep(key))
            .map(|(id, _)| id)
            .collect()
    }
}

/// Writes a batch's new edges inside its transaction.
pub fn store_new_edges(connection: &Connection, numbered: &Numbered) -> Result<(), StoreError> {
    if numbered.new_edges.is_empty() {
        return Ok(());
    }
    let mut appender = connection.appender("edges").map_err(backend)?;
    for (id, key) in (numbered.first_new_id..).zip(&numbered.new_edges) {
        appender
            .append_row(params![
                id,
                key.source.namespace,
                key.source.name,
                key.source.kind,
                key.destination.namespace,
                key.destination.name,
                key.destination.kind,
                key.port
            ])
            .map_err(backend)?;
    }
    appender.flush().map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u32) -> EdgeKey {
        EdgeKey {
            port,
            ..EdgeKey::default()
        }
    }

    #[test]
    fn new_edges_get_the_next_numbers_once_per_batch() {
        let mut edge_ids = EdgeIds::default();
        edge_ids.remember(vec![key(1)]);
        let batch = [key(2), key(1), key(3), key(2)];
        let numbered = edge_ids.number(batch.iter());
        assert_eq!(numbered.ids, vec![1, 0, 2, 1]);
        assert_eq!(numbered.new_edges, vec![key(2), key(3)]);
        // Not kept until the batch is stored.
        assert!(edge_ids.key(1).is_err());
        edge_ids.remember(numbered.new_edges);
        assert_eq!(edge_ids.key(2).unwrap().as_ref(), &key(3));
        assert_eq!(edge_ids.matching(|k| k.port >= 2), vec![1, 2]);
    }

    #[test]
    fn the_table_round_trips() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(super::super::schema::SCHEMA)
            .unwrap();
        let numbered = EdgeIds::default().number([key(7), key(9)].iter());
        store_new_edges(&connection, &numbered).unwrap();
        let loaded = EdgeIds::load(&connection).unwrap();
        assert_eq!(loaded.key(1).unwrap().as_ref(), &key(9));
        assert_eq!(loaded.number([key(7)].iter()).ids, vec![0]);
    }
}
