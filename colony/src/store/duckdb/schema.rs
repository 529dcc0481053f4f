//! Tables of the embedded store. Times are Unix seconds (BIGINT) so the
//! same shapes work on ClickHouse (Int64) without DateTime64.

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agents (
    agent_id      VARCHAR PRIMARY KEY,
    node_name     VARCHAR NOT NULL,
    pubkey        VARCHAR NOT NULL,
    version       VARCHAR NOT NULL,
    endpoint      VARCHAR NOT NULL,
    enrolled_at   BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    last_sequence UBIGINT NOT NULL DEFAULT 0
);
-- A mesh host number belongs to a WireGuard key, so a restarted agent
-- (same key) gets the same address back.
CREATE TABLE IF NOT EXISTS mesh_hosts (
    pubkey      VARCHAR PRIMARY KEY,
    host        UINTEGER NOT NULL UNIQUE,
    assigned_at BIGINT NOT NULL
);
-- Idempotency ledger: one row per stored flow batch.
CREATE TABLE IF NOT EXISTS applied_batches (
    agent_id    VARCHAR NOT NULL,
    sequence    UBIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    rows        UINTEGER NOT NULL,
    PRIMARY KEY (agent_id, sequence)
);
-- Every edge ever reported, numbered from 0 (store/duckdb/edge_ids.rs).
-- Rollup rows refer to it by number: nine numbers per row append and
-- group far faster than six strings.
CREATE TABLE IF NOT EXISTS edges (
    edge_id        UBIGINT PRIMARY KEY,
    src_namespace  VARCHAR NOT NULL,
    src_workload   VARCHAR NOT NULL,
    src_kind       VARCHAR NOT NULL,
    dst_namespace  VARCHAR NOT NULL,
    dst_workload   VARCHAR NOT NULL,
    dst_kind       VARCHAR NOT NULL,
    port           UINTEGER NOT NULL
);
-- Minute rollups per edge. Append-only (Appender); queries sum, so several
-- rows of one minute and edge (from several batches) add up.
CREATE TABLE IF NOT EXISTS edge_minutes (
    minute         BIGINT NOT NULL,
    edge_id        UBIGINT NOT NULL,
    connections    UBIGINT NOT NULL,
    failed         UBIGINT NOT NULL,
    resets         UBIGINT NOT NULL,
    bytes_sent     UBIGINT NOT NULL,
    bytes_received UBIGINT NOT NULL,
    rtt_us_sum     UBIGINT NOT NULL,
    rtt_samples    UBIGINT NOT NULL
);
-- Hourly rollups: minute rows older than the minute retention, folded by
-- the purge (see store/resolution.rs). One row per hour and edge.
CREATE TABLE IF NOT EXISTS edge_hours (
    hour           BIGINT NOT NULL,
    edge_id        UBIGINT NOT NULL,
    connections    UBIGINT NOT NULL,
    failed         UBIGINT NOT NULL,
    resets         UBIGINT NOT NULL,
    bytes_sent     UBIGINT NOT NULL,
    bytes_received UBIGINT NOT NULL,
    rtt_us_sum     UBIGINT NOT NULL,
    rtt_samples    UBIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS components (
    namespace  VARCHAR NOT NULL,
    name       VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    version    VARCHAR NOT NULL,
    pods       UINTEGER NOT NULL,
    ready_pods UINTEGER NOT NULL,
    restarts   UINTEGER NOT NULL,
    status     VARCHAR NOT NULL,
    started_at BIGINT NOT NULL,
    ports      VARCHAR NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    time      BIGINT NOT NULL,
    kind      VARCHAR NOT NULL,
    component VARCHAR NOT NULL,
    namespace VARCHAR NOT NULL,
    message   VARCHAR NOT NULL
);
";
