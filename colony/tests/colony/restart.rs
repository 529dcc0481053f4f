//! The colony restarts on its data directory and keeps everything; a
//! second colony on the same directory is refused with a clear message.

use serde_json::json;

use crate::support::{Colony, batch, edge, flow, u64_of, workload};

#[tokio::test]
async fn restart_keeps_agents_and_flows() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    colony.enroll("node-1", 1).await;
    colony.enroll("node-2", 2).await;
    let web_api = flow(
        workload("shop", "web", 0),
        workload("shop", "api", 8080),
        4,
        100,
    );
    let (status, _) = colony
        .report(&batch("node-2", 5, vec![web_api.clone()]))
        .await;
    assert_eq!(status, 200);
    let before = colony.topology(false).await;

    // Only one colony may own a data directory.
    let (exit, logs) = Colony::start_failing(dir.path());
    assert!(!exit.success());
    let text = logs.join("\n");
    assert!(text.contains("colony.duckdb"), "{text}");
    assert!(text.contains("locked"), "{text}");

    let status = colony.stop();
    assert!(status.success(), "graceful stop: {status:?}");

    let colony = Colony::start(dir.path());
    let (_, agents) = colony.colony("ListAgents", &json!({})).await;
    assert_eq!(agents["agents"].as_array().unwrap().len(), 2);
    let after = colony.topology(false).await;
    assert_eq!(after["edges"], before["edges"]);
    let e = edge(&after, "shop/web", "shop/api").unwrap();
    assert_eq!(u64_of(&e["connections"]), 4);

    // The agent comes back: same address, and it learns where it left off.
    let again = colony.enroll("node-2", 2).await;
    assert_eq!(again["meshIpv4"], "10.42.0.3");
    assert_eq!(again["lastSequence"], "5");
    // Its retry of the last batch is still recognised.
    let (_, ack) = colony.report(&batch("node-2", 5, vec![web_api])).await;
    assert_eq!(ack["duplicate"], true);
}

#[tokio::test]
async fn corrupted_file_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("colony.duckdb"), vec![0x42; 32 * 1024]).unwrap();
    let (exit, logs) = Colony::start_failing(dir.path());
    assert!(!exit.success());
    let text = logs.join("\n");
    assert!(text.contains("colony.duckdb"), "{text}");
    assert!(text.contains("move it aside"), "{text}");
}
