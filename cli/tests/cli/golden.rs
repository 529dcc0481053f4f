//! Snapshot tests of the human renderings against files in
//! `tests/golden/` (`UPDATE_GOLDEN=1 cargo test -p coral-cli` rewrites them).

use chrono::{TimeZone, Utc};
use coral_cli::output::Style;
use coral_cli::render;
use coral_cli::report::{StatusReport, TopologyReport, observed_components};
use serde_json::json;

fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        actual, expected,
        "{name} changed; if intended, rerun with UPDATE_GOLDEN=1"
    );
}

fn status_report() -> StatusReport {
    StatusReport {
        location: "running locally".into(),
        colony: serde_json::from_value(json!({
            "colonyId": "my-shop-dev", "application": "my-shop", "environment": "dev",
            "version": "0.1.0", "uptimeSeconds": "12240", "meshIpv4": "10.42.0.1",
            "connectPort": 9000, "agents": 2, "components": 3, "storage": "duckdb",
            "status": "healthy"
        }))
        .unwrap(),
        agents: serde_json::from_value(json!([
            {"agentId": "node-a", "nodeName": "worker-1", "meshIpv4": "10.42.0.2",
             "version": "0.1.0", "lastSeen": "2025-10-29T20:49:55Z", "status": "connected"},
            {"agentId": "node-b", "nodeName": "worker-2", "meshIpv4": "10.42.0.3",
             "version": "0.1.0", "lastSeen": "2025-10-29T20:40:00Z", "status": "stale"}
        ]))
        .unwrap(),
        components: serde_json::from_value(json!([
            {"name": "frontend", "namespace": "shop", "kind": "Deployment", "version": "1.9.2",
             "pods": 2, "readyPods": 2, "restarts": 3, "status": "up", "uptimeSeconds": "12240", "ports": [3000]},
            {"name": "api", "namespace": "shop", "kind": "Deployment", "version": "2.1.0",
             "pods": 3, "readyPods": 3, "restarts": 0, "status": "up", "uptimeSeconds": "18900", "ports": [8080]},
            {"name": "database", "namespace": "shop", "kind": "StatefulSet", "version": "14.2",
             "pods": 1, "readyPods": 0, "restarts": 0, "status": "degraded", "uptimeSeconds": "201600", "ports": [5432]}
        ]))
        .unwrap(),
        observed: Vec::new(),
    }
}

fn topology_report() -> TopologyReport {
    TopologyReport {
        window_seconds: 300,
        topology: serde_json::from_value(json!({
            "nodes": [
                {"id": "shop/frontend", "name": "frontend", "namespace": "shop", "kind": "Deployment"},
                {"id": "shop/api", "name": "api", "namespace": "shop", "kind": "Deployment"},
                {"id": "shop/database", "name": "database", "namespace": "shop", "kind": "StatefulSet"},
                {"id": "shop/worker", "name": "worker", "namespace": "shop", "kind": "Deployment"},
                {"id": "203.0.113.9", "name": "203.0.113.9", "external": true}
            ],
            "edges": [
                {"source": "shop/frontend", "destination": "shop/api", "port": 8080,
                 "connections": "225", "bytesSent": "460800", "bytesReceived": "4608000", "rttUs": 350},
                {"source": "shop/api", "destination": "shop/database", "port": 5432,
                 "connections": "210", "failedConnections": "2", "bytesSent": "51200", "bytesReceived": "512000", "rttUs": 120},
                {"source": "shop/api", "destination": "shop/worker", "port": 5000, "connections": "90"},
                {"source": "shop/worker", "destination": "shop/database", "port": 5432, "connections": "12"},
                {"source": "shop/api", "destination": "203.0.113.9", "port": 443, "connections": "3", "resets": "1"}
            ],
            "windowStart": "2025-10-29T20:45:00Z",
            "windowEnd": "2025-10-29T20:50:00Z"
        }))
        .unwrap(),
    }
}

#[test]
fn status_table() {
    let now = Utc.with_ymd_and_hms(2025, 10, 29, 20, 50, 0).unwrap();
    check(
        "status.txt",
        &render::status::render(&status_report(), Style::plain(), now),
    );
}

#[test]
fn status_table_of_components_seen_in_traffic() {
    let now = Utc.with_ymd_and_hms(2025, 10, 29, 20, 50, 0).unwrap();
    let mut report = status_report();
    report.components.clear();
    report.observed = observed_components(&topology_report().topology);
    check(
        "status-observed.txt",
        &render::status::render(&report, Style::plain(), now),
    );
}

#[test]
fn topology_tree_and_exports() {
    let report = topology_report();
    check(
        "topology.txt",
        &render::topology::render(&report, Style::plain()),
    );
    check("topology.dot", &render::topology::dot(&report));
    check("topology.mmd", &render::topology::mermaid(&report));
}

#[test]
fn colours_only_when_asked() {
    let tree = render::topology::render(&topology_report(), Style { color: true });
    assert!(tree.contains("\x1b[1m"));
    let plain = render::topology::render(&topology_report(), Style::plain());
    assert!(!plain.contains('\x1b'));
}
