//! Rows the store reads and writes. Times are Unix seconds (UTC); minute
//! buckets are multiples of 60. Plain integers keep the same shapes usable
//! by DuckDB and ClickHouse (Int64 works on every ClickHouse version).

use std::sync::Arc;

/// One end of an edge: a workload, or an external address (`kind` External,
/// `namespace` empty, `name` the IP).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct WorkloadRef {
    pub namespace: String,
    pub name: String,
    pub kind: String,
}

pub const EXTERNAL_KIND: &str = "External";

impl WorkloadRef {
    pub fn is_external(&self) -> bool {
        self.kind == EXTERNAL_KIND
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EdgeKey {
    pub source: WorkloadRef,
    pub destination: WorkloadRef,
    pub port: u32,
}

/// Additive counters of an edge over some time. RTT is kept as a sum and a
/// sample count so that rollups can be merged and averaged later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EdgeStats {
    pub connections: u64,
    pub failed: u64,
    pub resets: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub rtt_us_sum: u64,
    pub rtt_samples: u64,
}

impl EdgeStats {
    pub fn add(&mut self, other: &EdgeStats) {
        self.connections = self.connections.saturating_add(other.connections);
        self.failed = self.failed.saturating_add(other.failed);
        self.resets = self.resets.saturating_add(other.resets);
        self.bytes_sent = self.bytes_sent.saturating_add(other.bytes_sent);
        self.bytes_received = self.bytes_received.saturating_add(other.bytes_received);
        self.rtt_us_sum = self.rtt_us_sum.saturating_add(other.rtt_us_sum);
        self.rtt_samples = self.rtt_samples.saturating_add(other.rtt_samples);
    }

    /// Mean RTT in microseconds, 0 when nothing was sampled.
    pub fn rtt_us(&self) -> u32 {
        match self.rtt_us_sum.checked_div(self.rtt_samples) {
            Some(mean) => u32::try_from(mean).unwrap_or(u32::MAX),
            None => 0,
        }
    }
}

/// One minute of one edge (the rollup row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeMinute {
    pub minute: i64,
    pub key: EdgeKey,
    pub stats: EdgeStats,
}

/// An edge summed over a query window. The key is shared, not copied: a
/// topology answer has tens of thousands of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeTotal {
    pub key: Arc<EdgeKey>,
    pub stats: EdgeStats,
    pub last_minute: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopologyQuery {
    /// Inclusive start and exclusive end, Unix seconds.
    pub from: i64,
    pub to: i64,
    /// Only edges with either end in this namespace.
    pub namespace: Option<String>,
    pub include_external: bool,
}

impl TopologyQuery {
    /// Whether the query's filters keep `key` (its time window aside): an
    /// end in the namespace (none or empty: all), and an external
    /// destination only with `include_external`.
    pub fn selects(&self, key: &EdgeKey) -> bool {
        let in_namespace = match self.namespace.as_deref() {
            None | Some("") => true,
            Some(namespace) => {
                key.source.namespace == namespace || key.destination.namespace == namespace
            }
        };
        in_namespace && (self.include_external || !key.destination.is_external())
    }
}

/// The minute series of the traffic from one node to another (all ports).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesQuery {
    pub source: (String, String),
    pub destination: (String, String),
    pub from: i64,
    pub to: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesPoint {
    pub minute: i64,
    pub stats: EdgeStats,
}

/// A flow batch as the idempotency ledger sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchId {
    pub agent_id: String,
    pub sequence: u64,
    pub received_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    Applied,
    /// Already stored earlier; nothing was written.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentEnrollment {
    pub agent_id: String,
    pub pubkey: String,
    pub node_name: String,
    pub version: String,
    pub endpoint: String,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolled {
    /// Host number inside the mesh network (2.. ; 1 is the colony).
    pub mesh_host: u32,
    /// Highest batch sequence stored for the agent (0 when none).
    pub last_sequence: u64,
    /// False when the key had enrolled before.
    pub new_key: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentRecord {
    pub agent_id: String,
    pub node_name: String,
    pub pubkey: String,
    pub mesh_host: u32,
    pub version: String,
    pub enrolled_at: i64,
    pub last_seen: i64,
    pub last_sequence: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComponentRecord {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    pub version: String,
    pub pods: u32,
    pub ready_pods: u32,
    pub restarts: u32,
    pub status: String,
    pub started_at: i64,
    pub ports: Vec<u32>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventRecord {
    pub time: i64,
    pub kind: String,
    pub component: String,
    pub namespace: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    pub from: i64,
    pub component: Option<String>,
    pub limit: u32,
}

/// Everything strictly older than these times is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Minute rollups before this hour boundary are folded into hourly
    /// rollups (see `resolution`).
    pub edge_minutes_before: i64,
    /// Hourly rollups before this are deleted.
    pub edge_hours_before: i64,
    pub events_before: i64,
    pub batches_before: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    /// Minute rows folded into hours (and deleted).
    pub edge_minutes: u64,
    /// Hourly rows written by the fold.
    pub edge_hours_written: u64,
    /// Hourly rows older than their retention, deleted.
    pub edge_hours: u64,
    pub events: u64,
    pub batches: u64,
}
