//! Probes, metrics, start lines, rate limiting and graceful shutdown.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, colony, key};

#[tokio::test]
async fn probes_answer() {
    let server = Server::start(&[]);
    assert_eq!(
        server.get_text("/healthz").await,
        (StatusCode::OK, "ok\n".into())
    );
    assert_eq!(
        server.get_text("/readyz").await,
        (StatusCode::OK, "ready\n".into())
    );
}

#[tokio::test]
async fn metrics_count_registrations_lookups_and_rejections() {
    let server = Server::start(&[]);
    server.post("RegisterColony", &colony("m1", &key(1))).await;
    server.post("RegisterColony", &colony("m1", &key(1))).await;
    server.post("RegisterColony", &colony("m1", &key(2))).await;
    server.post("LookupColony", &json!({"mesh_id": "m1"})).await;
    server.post("LookupColony", &json!({"mesh_id": "m2"})).await;
    server.post("LookupColony", &json!({"mesh_id": ""})).await;
    let (status, text) = server.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "coral_discovery_registrations_total{kind=\"colony\",outcome=\"created\"} 1",
        "coral_discovery_registrations_total{kind=\"colony\",outcome=\"renewed\"} 1",
        "coral_discovery_lookups_total{kind=\"colony\",outcome=\"found\"} 1",
        "coral_discovery_lookups_total{kind=\"colony\",outcome=\"not_found\"} 1",
        "coral_discovery_live_entries{kind=\"colony\"} 1",
        "coral_discovery_expirations_total{kind=\"colony\"} 0",
        "coral_discovery_rejected_requests_total{reason=\"already_exists\"} 1",
        "coral_discovery_rejected_requests_total{reason=\"invalid_argument\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn start_lines_match_the_readme() {
    let server = Server::start(&["--ttl", "300"]);
    let events: Vec<Value> = server
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let start = events
        .iter()
        .find(|e| e["message"] == "Starting discovery service")
        .expect("start line");
    assert_eq!(start["ttl"], "300s");
    assert_eq!(start["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["level"], "INFO");
    let listening = events
        .iter()
        .find(|e| e["message"] == "Discovery service listening")
        .expect("listening line");
    assert_eq!(listening["addr"], server.addr.to_string());
}

#[tokio::test]
async fn registrations_are_rate_limited_per_source() {
    let server = Server::start(&["--register-rate-limit", "0.1", "--register-burst", "3"]);
    for i in 0..3 {
        let (status, _) = server
            .post("RegisterColony", &colony(&format!("r{i}"), &key(1)))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = server.post("RegisterColony", &colony("r3", &key(1))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "resource_exhausted");
    assert!(body["message"].as_str().unwrap().contains("127.0.0.1"));
    // Lookups are not limited, and nothing was stored for the refused call.
    let (status, _) = server.post("LookupColony", &json!({"mesh_id": "r3"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(server.registered_colonies().await, 3);
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let mut server = Server::start(&[]);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server
        .wait_exit(Duration::from_secs(15))
        .expect("exits after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    // The log reader thread may lag the exit a little.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut logs = server.logs().join("\n");
    while !logs.contains("Discovery service stopped") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        logs = server.logs().join("\n");
    }
    assert!(logs.contains("Shutting down"), "{logs}");
    assert!(logs.contains("Discovery service stopped"), "{logs}");
}
