//! Leases expire: invisible at once, purged by the cleanup loop, and then
//! free for a new owner.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::support::{Server, colony, key};

#[tokio::test]
async fn expired_colonies_vanish_and_are_purged() {
    let server = Server::start(&["--ttl", "1", "--cleanup-interval", "1"]);
    let (status, body) = server
        .post("RegisterColony", &colony("short-lived", &key(1)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ttl"], 1);
    let (status, _) = server
        .post("LookupColony", &json!({"mesh_id": "short-lived"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.registered_colonies().await, 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, body) = server
        .post("LookupColony", &json!({"mesh_id": "short-lived"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "colony not found: short-lived");
    assert_eq!(server.registered_colonies().await, 0);

    // After a cleanup tick the purge is counted.
    let mut purged = false;
    for _ in 0..30 {
        let metrics = server.get_text("/metrics").await.1;
        if metrics.contains("coral_discovery_expirations_total{kind=\"colony\"} 1") {
            assert!(metrics.contains("coral_discovery_live_entries{kind=\"colony\"} 0"));
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(purged, "cleanup loop never purged the expired lease");
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("purged expired registrations")),
        "no purge log line"
    );

    // An expired id can be claimed by another key.
    let (status, _) = server
        .post("RegisterColony", &colony("short-lived", &key(2)))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn renewal_extends_the_lease() {
    let server = Server::start(&["--ttl", "2", "--cleanup-interval", "60"]);
    server
        .post("RegisterColony", &colony("renewed", &key(1)))
        .await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (status, _) = server
            .post("RegisterColony", &colony("renewed", &key(1)))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // 3 s after the first registration, beyond its 2 s TTL, still live.
    let (status, _) = server
        .post("LookupColony", &json!({"mesh_id": "renewed"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}
