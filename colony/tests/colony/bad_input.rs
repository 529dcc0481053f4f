//! Malformed batches are refused with invalid_argument and change nothing.

use serde_json::{Value, json};

use crate::support::{Colony, batch, edge_count, flow, workload};

#[tokio::test]
async fn malformed_batches_are_invalid_argument_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    colony.enroll("node-1", 1).await;
    let good = || {
        flow(
            workload("shop", "web", 0),
            workload("shop", "api", 8080),
            1,
            1,
        )
    };
    let mut no_destination = good();
    no_destination
        .as_object_mut()
        .unwrap()
        .remove("destination");
    let mut bad_port = good();
    bad_port["destination"]["port"] = json!(70_000);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("sequence 0", batch("node-1", 0, vec![good()]), "sequence"),
        ("no agent id", batch("", 1, vec![good()]), "agent_id"),
        (
            "no destination",
            batch("node-1", 1, vec![no_destination]),
            "destination",
        ),
        ("bad port", batch("node-1", 1, vec![bad_port]), "port"),
        (
            "oversized",
            batch("node-1", 1, vec![good(); 20_001]),
            "limit is 20000",
        ),
        (
            "future window",
            json!({"agentId": "node-1", "sequence": 1, "windowStart": "2999-01-01T00:00:00Z", "flows": [good()]}),
            "future",
        ),
    ];
    for (name, body, needle) in cases {
        let (status, answer) = colony.report(&body).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["code"], "invalid_argument", "{name}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{name}: {message}");
    }
    // Not JSON of a FlowBatch at all.
    let (status, answer) = colony.report(&json!({"sequence": "not a number"})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid_argument");

    // An agent that never enrolled.
    let (status, answer) = colony.report(&batch("ghost", 1, vec![good()])).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "failed_precondition");

    assert_eq!(edge_count(&colony.topology(true).await), 0);
    // The sequence numbers refused above are still free.
    let (status, ack) = colony.report(&batch("node-1", 1, vec![good()])).await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack.get("duplicate").is_none());
    let (_, metrics) = colony.get_text("/metrics").await;
    assert!(
        metrics.contains("coral_colony_batches_rejected_total{reason=\"invalid_argument\"} 6"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_query_windows_are_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    for (method, body) in [
        ("GetTopology", json!({"windowSeconds": -5})),
        ("GetTopology", json!({"windowSeconds": 100_000_000})),
        ("QueryEdgeSeries", json!({"destination": "shop/api"})),
        ("ListEvents", json!({"limit": 5000})),
    ] {
        let (status, answer) = colony.colony(method, &body).await;
        assert_eq!(status, 400, "{method} {body}: {answer}");
        assert_eq!(answer["code"], "invalid_argument");
    }
}
