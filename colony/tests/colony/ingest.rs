//! Flow batches become topology edges with exact sums, once.

use serde_json::{Value, json};

use crate::support::{Colony, batch, edge, edge_count, flow, u64_of, workload};

fn external(ip: &str, port: u32) -> serde_json::Value {
    json!({"ip": ip, "port": port})
}

#[tokio::test]
async fn batches_show_up_in_topology_with_exact_sums_once() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    colony.enroll("node-1", 1).await;
    colony.enroll("node-2", 2).await;
    let web_api = || {
        flow(
            workload("shop", "web", 0),
            workload("shop", "api", 8080),
            3,
            100,
        )
    };
    let api_db = flow(
        workload("shop", "api", 0),
        workload("shop", "db", 5432),
        7,
        50,
    );
    let api_ext = flow(
        workload("shop", "api", 0),
        external("203.0.113.9", 443),
        2,
        10,
    );

    let batches = [
        batch("node-1", 1, vec![web_api(), web_api()]),
        batch("node-1", 2, vec![web_api(), api_db]),
        batch("node-2", 1, vec![api_ext]),
    ];
    for body in &batches {
        let (status, ack) = colony.report(body).await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["acknowledgedSequence"], body["sequence"].to_string());
        assert!(ack.get("duplicate").is_none(), "{ack}");
    }
    // The agent did not hear the ack and retries batch 2.
    let (status, ack) = colony.report(&batches[1]).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["duplicate"], true);

    let topology = colony.topology(false).await;
    assert_eq!(edge_count(&topology), 2, "{topology}");
    let e = edge(&topology, "shop/web", "shop/api").expect("web → api");
    assert_eq!(u64_of(&e["connections"]), 9);
    assert_eq!(u64_of(&e["bytesSent"]), 300);
    assert_eq!(u64_of(&e["bytesReceived"]), 3000);
    assert_eq!(e["port"], 8080);
    assert_eq!(e["rttUs"], 250);
    let e = edge(&topology, "shop/api", "shop/db").expect("api → db");
    assert_eq!(u64_of(&e["connections"]), 7);

    let with_external = colony.topology(true).await;
    assert_eq!(edge_count(&with_external), 3);
    let e = edge(&with_external, "shop/api", "203.0.113.9").expect("api → external");
    assert_eq!(u64_of(&e["bytesSent"]), 10);
    let external_node = with_external["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "203.0.113.9")
        .expect("external node");
    assert_eq!(external_node["external"], true);

    let (_, other_ns) = colony
        .colony(
            "GetTopology",
            &json!({"windowSeconds": 3600, "namespace": "auth"}),
        )
        .await;
    assert_eq!(edge_count(&other_ns), 0);

    let (status, series) = colony
        .colony(
            "QueryEdgeSeries",
            &json!({"source": "shop/web", "destination": "shop/api"}),
        )
        .await;
    assert_eq!(status, 200, "{series}");
    let points = series["points"].as_array().unwrap();
    let total: u64 = points.iter().map(|p| u64_of(&p["connections"])).sum();
    assert_eq!(total, 9);
    assert!(points[0]["minute"].as_str().unwrap().ends_with(":00Z"));

    let (_, metrics) = colony.get_text("/metrics").await;
    for needle in [
        "coral_colony_batches_received_total 4",
        "coral_colony_batches_duplicate_total 1",
        "coral_colony_flows_stored_total 5",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
}

#[tokio::test]
async fn heartbeat_updates_known_agents_only() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    colony.enroll("node-1", 1).await;
    let (status, body) = colony
        .agent("Heartbeat", &json!({"agentId": "node-1"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["receivedAt"].is_string());
    let (status, body) = colony
        .agent("Heartbeat", &json!({"agentId": "ghost"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "failed_precondition");
}

/// Host mode (`coral connect`): the workloads an agent observes arrive with
/// its heartbeats and are listed as components; bad ones are refused and
/// nothing is stored.
#[tokio::test]
async fn heartbeats_of_host_agents_register_their_components() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    colony.enroll("laptop", 1).await;
    let bad = json!({"agentId": "laptop", "components": [{"name": "api", "ports": [70000]}]});
    let (status, body) = colony.agent("Heartbeat", &bad).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_argument");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("components[0].ports"),
        "{body}"
    );
    let (_, listed) = colony.colony("ListComponents", &json!({})).await;
    assert!(
        listed["components"].as_array().is_none_or(Vec::is_empty),
        "{listed}"
    );

    let heartbeat = json!({"agentId": "laptop", "components": [
        {"name": "api", "kind": "WORKLOAD_KIND_PROCESS", "ports": [8080]},
        {"namespace": "shop", "name": "frontend", "kind": "WORKLOAD_KIND_PROCESS", "ports": [3000]},
    ]});
    let (status, body) = colony.agent("Heartbeat", &heartbeat).await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = colony.colony("ListComponents", &json!({})).await;
    let mut seen: Vec<(String, String, String, Value)> = listed["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap_or_default().to_owned();
            (
                text("namespace"),
                text("name"),
                text("status"),
                c["ports"].clone(),
            )
        })
        .collect();
    seen.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        seen,
        vec![
            ("host".into(), "api".into(), "up".into(), json!([8080])),
            ("shop".into(), "frontend".into(), "up".into(), json!([3000])),
        ]
    );
}
