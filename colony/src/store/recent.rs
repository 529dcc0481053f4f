//! The last minutes of flow rollups, kept in memory in front of a store.
//!
//! Most topology reads ask for the last few minutes (the default window is
//! five), and a dashboard asks again and again. Summing those minutes in
//! memory takes about a millisecond for 20,000 edges; asking DuckDB or
//! ClickHouse to aggregate them costs tens of milliseconds
//! (`cargo xtask bench colony`). So `RecentMinutes` wraps any `Store`:
//!
//! - at start it loads the minutes from `now - keep` on from the store;
//! - every batch the store applies is added here too (a duplicate is not);
//! - a topology read whose window starts at or after the oldest minute
//!   held (the *floor*) is answered here, any other by the store.
//!
//! The store stays the record: a failed write is not added, and everything
//! else passes through. The floor only moves forward (with time, and when
//! a purge removes minutes), so what is held is always complete from the
//! floor on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    AgentEnrollment, AgentRecord, BatchId, BatchOutcome, ComponentRecord, EdgeKey, EdgeMinute,
    EdgeStats, EdgeTotal, Enrolled, EventQuery, EventRecord, PurgeCutoffs, Purged, SeriesPoint,
    SeriesQuery, Store, StoreError, TopologyQuery,
};
use crate::rollup::minute_of;

/// Minutes held by default: a 5- or 15-minute view is answered from memory.
pub const DEFAULT_KEEP_SECONDS: i64 = 15 * 60;

pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

pub struct RecentMinutes {
    store: Arc<dyn Store>,
    keep: i64,
    clock: Clock,
    window: Mutex<Window>,
}

impl RecentMinutes {
    /// Wraps `store`, loading its last `DEFAULT_KEEP_SECONDS` of minutes.
    pub fn new(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        Self::with_clock(
            store,
            DEFAULT_KEEP_SECONDS,
            Box::new(crate::service::unix_now),
        )
    }

    pub fn with_clock(store: Arc<dyn Store>, keep: i64, clock: Clock) -> Result<Self, StoreError> {
        let floor = minute_of(clock().saturating_sub(keep));
        let mut window = Window::new(floor);
        for row in store.minute_rows(floor)? {
            window.add(&row);
        }
        Ok(RecentMinutes {
            store,
            keep,
            clock,
            window: Mutex::new(window),
        })
    }

    /// The window, with minutes older than `keep` dropped.
    fn window(&self) -> MutexGuard<'_, Window> {
        // Additions are whole rows; a panic elsewhere cannot leave a half
        // row, so the data is usable.
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        window.raise_floor(minute_of((self.clock)().saturating_sub(self.keep)));
        window
    }
}

/// What is held: per minute, (edge slot, counters) rows; edges are numbered
/// by slot so a read adds numbers into a vector instead of hashing keys.
struct Window {
    /// Complete for minutes at or after this.
    floor: i64,
    minutes: BTreeMap<i64, Vec<(u32, EdgeStats)>>,
    keys: Vec<Arc<EdgeKey>>,
    slots: HashMap<Arc<EdgeKey>, u32, foldhash::fast::RandomState>,
    /// Slots in key order: reads answer in key order without sorting.
    ordered: BTreeMap<Arc<EdgeKey>, u32>,
}

impl Window {
    fn new(floor: i64) -> Self {
        Window {
            floor,
            minutes: BTreeMap::new(),
            keys: Vec::new(),
            slots: HashMap::default(),
            ordered: BTreeMap::new(),
        }
    }

    fn slot(&mut self, key: &EdgeKey) -> u32 {
        if let Some(slot) = self.slots.get(key) {
            return *slot;
        }
        let slot = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        let key = Arc::new(key.clone());
        self.keys.push(key.clone());
        self.slots.insert(key.clone(), slot);
        self.ordered.insert(key, slot);
        slot
    }

    fn add(&mut self, row: &EdgeMinute) {
        if row.minute < self.floor {
            return;
        }
        let slot = self.slot(&row.key);
        self.minutes
            .entry(row.minute)
            .or_default()
            .push((slot, row.stats));
    }

    fn raise_floor(&mut self, floor: i64) {
        if floor <= self.floor {
            return;
        }
        self.floor = floor;
        self.minutes = self.minutes.split_off(&floor);
        self.forget_gone_edges();
    }

    /// Edges with no minute left are forgotten once they outnumber the
    /// live ones, so a churn of short-lived peers (external addresses)
    /// cannot grow the window without bound.
    fn forget_gone_edges(&mut self) {
        let mut live = vec![false; self.keys.len()];
        for rows in self.minutes.values() {
            for (slot, _) in rows {
                live[*slot as usize] = true;
            }
        }
        let live_count = live.iter().filter(|l| **l).count();
        if self.keys.len() <= 2 * live_count + 1024 {
            return;
        }
        let old_keys = std::mem::take(&mut self.keys);
        self.slots.clear();
        self.ordered.clear();
        let mut renumbered = vec![0u32; old_keys.len()];
        for (old, key) in old_keys.iter().enumerate() {
            if live[old] {
                renumbered[old] = self.slot(key);
            }
        }
        for rows in self.minutes.values_mut() {
            for (slot, _) in rows.iter_mut() {
                *slot = renumbered[*slot as usize];
            }
        }
    }

    /// Totals of `query`, ordered by edge; None when its window starts
    /// before the floor.
    fn topology(&self, query: &TopologyQuery) -> Option<Vec<EdgeTotal>> {
        if query.from < self.floor {
            return None;
        }
        if query.from >= query.to {
            return Some(Vec::new());
        }
        let mut sums: Vec<Option<(EdgeStats, i64)>> = vec![None; self.keys.len()];
        for (minute, rows) in self.minutes.range(query.from..query.to) {
            for (slot, stats) in rows {
                let (total, last) = sums[*slot as usize].get_or_insert((EdgeStats::default(), 0));
                total.add(stats);
                *last = (*last).max(*minute);
            }
        }
        let totals = self
            .ordered
            .iter()
            .filter_map(|(key, slot)| {
                let (stats, last_minute) = sums[*slot as usize]?;
                query.selects(key).then(|| EdgeTotal {
                    key: key.clone(),
                    stats,
                    last_minute,
                })
            })
            .collect();
        Some(totals)
    }
}

impl Store for RecentMinutes {
    fn backend(&self) -> &'static str {
        self.store.backend()
    }

    fn enroll_agent(
        &self,
        enrollment: &AgentEnrollment,
        max_host: u32,
    ) -> Result<Enrolled, StoreError> {
        self.store.enroll_agent(enrollment, max_host)
    }

    fn touch_agent(&self, agent_id: &str, at: i64) -> Result<bool, StoreError> {
        self.store.touch_agent(agent_id, at)
    }

    fn agent(&self, agent_id: &str) -> Result<Option<AgentRecord>, StoreError> {
        self.store.agent(agent_id)
    }

    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.store.list_agents()
    }

    fn apply_batch(
        &self,
        batch: &BatchId,
        rows: &[EdgeMinute],
    ) -> Result<BatchOutcome, StoreError> {
        let outcome = self.store.apply_batch(batch, rows)?;
        if outcome == BatchOutcome::Applied {
            let mut window = self.window();
            for row in rows {
                window.add(row);
            }
        }
        Ok(outcome)
    }

    fn topology(&self, query: &TopologyQuery) -> Result<Vec<EdgeTotal>, StoreError> {
        if let Some(totals) = self.window().topology(query) {
            return Ok(totals);
        }
        self.store.topology(query)
    }

    fn minute_rows(&self, from: i64) -> Result<Vec<EdgeMinute>, StoreError> {
        self.store.minute_rows(from)
    }

    fn edge_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesPoint>, StoreError> {
        self.store.edge_series(query)
    }

    fn upsert_component(&self, component: &ComponentRecord) -> Result<(), StoreError> {
        self.store.upsert_component(component)
    }

    fn remove_component(&self, namespace: &str, name: &str) -> Result<(), StoreError> {
        self.store.remove_component(namespace, name)
    }

    fn list_components(&self, namespace: Option<&str>) -> Result<Vec<ComponentRecord>, StoreError> {
        self.store.list_components(namespace)
    }

    fn record_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        self.store.record_event(event)
    }

    fn list_events(&self, query: &EventQuery) -> Result<Vec<EventRecord>, StoreError> {
        self.store.list_events(query)
    }

    fn purge(&self, cutoffs: PurgeCutoffs) -> Result<Purged, StoreError> {
        // Raised first: a read meanwhile goes to the store, never to
        // minutes the store no longer has.
        self.window().raise_floor(cutoffs.edge_minutes_before);
        self.store.purge(cutoffs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::duckdb::DuckDbStore;
    use crate::store::{WorkloadRef, conformance};

    fn key(destination: &str, port: u32) -> EdgeKey {
        let workload = |name: &str| WorkloadRef {
            namespace: "shop".into(),
            name: name.into(),
            kind: "Deployment".into(),
        };
        EdgeKey {
            source: workload("web"),
            destination: workload(destination),
            port,
        }
    }

    fn row(minute: i64, key: EdgeKey, connections: u64) -> EdgeMinute {
        EdgeMinute {
            minute,
            key,
            stats: EdgeStats {
                connections,
                ..EdgeStats::default()
            },
        }
    }

    #[test]
    fn reads_inside_the_window_match_the_store() {
        let store: Arc<dyn Store> = Arc::new(DuckDbStore::in_memory().unwrap());
        let now = 100 * 60;
        let batch = |sequence| BatchId {
            agent_id: "a".into(),
            sequence,
            received_at: now,
        };
        // Stored before the wrapper exists: loaded at start.
        store
            .apply_batch(&batch(1), &[row(80 * 60, key("api", 80), 2)])
            .unwrap();
        let recent =
            RecentMinutes::with_clock(store.clone(), 30 * 60, Box::new(move || now)).unwrap();
        let rows = [
            row(95 * 60, key("db", 5432), 4),
            row(95 * 60, key("api", 80), 1),
            // Older than the window: only in the store.
            row(10 * 60, key("api", 80), 100),
        ];
        assert_eq!(
            recent.apply_batch(&batch(2), &rows).unwrap(),
            BatchOutcome::Applied
        );
        assert_eq!(
            recent.apply_batch(&batch(2), &rows).unwrap(),
            BatchOutcome::Duplicate
        );
        for from in [70 * 60, 90 * 60, 96 * 60, 5 * 60] {
            let query = TopologyQuery {
                from,
                to: now + 1,
                namespace: None,
                include_external: true,
            };
            assert_eq!(
                recent.topology(&query).unwrap(),
                store.topology(&query).unwrap(),
                "window from minute {}",
                from / 60
            );
        }
        let totals = recent
            .window()
            .topology(&TopologyQuery {
                from: 70 * 60,
                to: now,
                ..TopologyQuery::default()
            })
            .expect("inside the window");
        let summary: Vec<_> = totals
            .iter()
            .map(|t| {
                (
                    t.key.destination.name.as_str(),
                    t.stats.connections,
                    t.last_minute,
                )
            })
            .collect();
        assert_eq!(summary, vec![("api", 3, 95 * 60), ("db", 4, 95 * 60)]);
        // Before the floor: not answered here.
        assert!(
            recent
                .window()
                .topology(&TopologyQuery::default())
                .is_none()
        );
    }

    #[test]
    fn conforms_when_everything_is_held() {
        // A window reaching back to 1970: every read the suite makes is
        // answered from memory, except after a purge raised the floor.
        conformance::run_all(|| {
            let store = Arc::new(DuckDbStore::in_memory().expect("in-memory DuckDB"));
            let clock = Box::new(crate::service::unix_now);
            RecentMinutes::with_clock(store, crate::service::unix_now(), clock).expect("load")
        });
    }

    #[test]
    fn the_floor_follows_the_clock_and_forgets_gone_edges() {
        let mut window = Window::new(0);
        for port in 0..3_000 {
            window.add(&row(60, key("x", port), 1));
        }
        window.add(&row(600, key("api", 80), 5));
        window.raise_floor(120);
        assert_eq!(window.keys.len(), 1, "3,000 gone edges are forgotten");
        let totals = window
            .topology(&TopologyQuery {
                from: 120,
                to: 900,
                ..TopologyQuery::default()
            })
            .unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].stats.connections, 5);
        // A row older than the floor is not held.
        window.add(&row(60, key("late", 1), 1));
        assert!(window.minutes.keys().all(|minute| *minute >= 120));
    }
}
