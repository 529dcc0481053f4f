//! Tables of the ClickHouse store, created on open. Only what ClickHouse
//! 18.16 (Debian's) and current versions both accept: MergeTree engines
//! with `ORDER BY` / `PARTITION BY`, Int64 Unix seconds instead of
//! DateTime64, plain String instead of LowCardinality, no CODECs, no TTL
//! (retention is `ALTER TABLE … DELETE`, see `Connection::delete_before`).
//!
//! ClickHouse has no transactions and no unique keys, so "upserts" are
//! inserts into ReplacingMergeTree tables read with `FINAL` (the row with
//! the highest `revision`, or the last inserted, wins), and counters that
//! only grow are AggregatingMergeTree `max` states.

pub const TABLES: &[&str] = &[
    // Registration data; the newest revision of an agent wins.
    "CREATE TABLE IF NOT EXISTS agents (
        agent_id    String,
        node_name   String,
        pubkey      String,
        version     String,
        endpoint    String,
        enrolled_at Int64,
        revision    UInt64
    ) ENGINE = ReplacingMergeTree(revision) ORDER BY agent_id",
    // last_seen and last_sequence only grow: every heartbeat or batch adds
    // a max state, merges fold them into one row per agent.
    "CREATE TABLE IF NOT EXISTS agent_activity (
        agent_id      String,
        last_seen     AggregateFunction(max, Int64),
        last_sequence AggregateFunction(max, UInt64)
    ) ENGINE = AggregatingMergeTree() ORDER BY agent_id",
    // A mesh host number belongs to a WireGuard key, so a restarted agent
    // (same key) gets the same address back.
    "CREATE TABLE IF NOT EXISTS mesh_hosts (
        pubkey      String,
        host        UInt32,
        assigned_at Int64
    ) ENGINE = ReplacingMergeTree() ORDER BY pubkey",
    // Idempotency ledger: one row per stored flow batch.
    "CREATE TABLE IF NOT EXISTS applied_batches (
        agent_id    String,
        sequence    UInt64,
        received_at Int64,
        rows        UInt32
    ) ENGINE = ReplacingMergeTree() ORDER BY (agent_id, sequence)",
    // Minute rollups per edge, tagged with the batch that wrote them: the
    // sorting key ends with (agent_id, sequence), so a batch written twice
    // collapses to one copy under FINAL (see flows.rs), while rows of
    // different batches for the same minute and edge add up.
    "CREATE TABLE IF NOT EXISTS edge_minutes (
        minute         Int64,
        src_namespace  String,
        src_workload   String,
        src_kind       String,
        dst_namespace  String,
        dst_workload   String,
        dst_kind       String,
        port           UInt32,
        agent_id       String,
        sequence       UInt64,
        connections    UInt64,
        failed         UInt64,
        resets         UInt64,
        bytes_sent     UInt64,
        bytes_received UInt64,
        rtt_us_sum     UInt64,
        rtt_samples    UInt64
    ) ENGINE = ReplacingMergeTree()
    PARTITION BY intDiv(minute, 86400)
    ORDER BY (minute, src_namespace, src_workload, src_kind, dst_namespace, dst_workload,
              dst_kind, port, agent_id, sequence)",
    // Hourly rollups: minute rows older than the minute retention, folded
    // by the purge (see store/resolution.rs). Each hour is written once
    // (the fold starts at the watermark), so a plain MergeTree.
    "CREATE TABLE IF NOT EXISTS edge_hours (
        hour           Int64,
        src_namespace  String,
        src_workload   String,
        src_kind       String,
        dst_namespace  String,
        dst_workload   String,
        dst_kind       String,
        port           UInt32,
        connections    UInt64,
        failed         UInt64,
        resets         UInt64,
        bytes_sent     UInt64,
        bytes_received UInt64,
        rtt_us_sum     UInt64,
        rtt_samples    UInt64
    ) ENGINE = MergeTree()
    PARTITION BY intDiv(hour, 2592000)
    ORDER BY (hour, src_namespace, src_workload, src_kind, dst_namespace, dst_workload,
              dst_kind, port)",
    "CREATE TABLE IF NOT EXISTS components (
        namespace  String,
        name       String,
        kind       String,
        version    String,
        pods       UInt32,
        ready_pods UInt32,
        restarts   UInt32,
        status     String,
        started_at Int64,
        ports      Array(UInt32),
        updated_at Int64,
        revision   UInt64
    ) ENGINE = ReplacingMergeTree(revision) ORDER BY (namespace, name)",
    "CREATE TABLE IF NOT EXISTS events (
        time      Int64,
        kind      String,
        component String,
        namespace String,
        message   String
    ) ENGINE = MergeTree() PARTITION BY intDiv(time, 86400) ORDER BY time",
];
