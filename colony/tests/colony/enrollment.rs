//! Enrollment: the token gate, stable mesh addresses, gRPC and status.

use coral_proto::agent::v1::EnrollRequest;
use coral_proto::agent::v1::agent_service_client::AgentServiceClient;
use serde_json::json;

use crate::support::{Colony, TOKEN, enroll_body, key};

#[tokio::test]
async fn wrong_token_is_unauthenticated_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    for token in ["wrong", "", &format!("{TOKEN}x")] {
        let (status, body) = colony
            .agent("Enroll", &enroll_body("node-1", 1, token))
            .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], "unauthenticated");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("enrollment token")
        );
    }
    let (_, agents) = colony.colony("ListAgents", &json!({})).await;
    assert_eq!(agents, json!({}), "no agent stored");
    let (_, events) = colony.colony("ListEvents", &json!({})).await;
    assert_eq!(events, json!({}), "no event stored");
    let (_, metrics) = colony.get_text("/metrics").await;
    assert!(
        metrics.contains("coral_colony_enrollments_rejected_total{reason=\"unauthenticated\"} 3"),
        "{metrics}"
    );
    // The token never reaches the logs.
    assert!(colony.logs().iter().all(|line| !line.contains(TOKEN)));
}

#[tokio::test]
async fn mesh_address_is_stable_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    let first = colony.enroll("node-1", 1).await;
    assert_eq!(first["meshIpv4"], "10.42.0.2");
    assert_eq!(first["colonyMeshIpv4"], "10.42.0.1");
    assert_eq!(first["meshIpv6"], "fd42::2");
    assert_eq!(first["connectPort"], colony.addr.port());
    assert_eq!(colony.enroll("node-2", 2).await["meshIpv4"], "10.42.0.3");
    // The agent restarts: same key, same address.
    assert_eq!(colony.enroll("node-1", 1).await["meshIpv4"], "10.42.0.2");

    // Agents speak gRPC.
    let mut client = AgentServiceClient::connect(format!("http://{}", colony.addr))
        .await
        .unwrap();
    let response = client
        .enroll(EnrollRequest {
            token: TOKEN.into(),
            agent_id: "node-3".into(),
            pubkey: key(3),
            node_name: "node-3".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.mesh_ipv4, "10.42.0.4");
    let refused = client
        .enroll(EnrollRequest {
            token: "nope".into(),
            agent_id: "node-4".into(),
            pubkey: key(4),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let (_, agents) = colony.colony("ListAgents", &json!({})).await;
    let agents = agents["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 3);
    assert_eq!(agents[0]["agentId"], "node-1");
    assert_eq!(agents[0]["status"], "connected");
    assert_eq!(agents[0]["meshIpv4"], "10.42.0.2");

    // What a user's curl against the colony's status endpoint sees.
    let (status, body) = colony.colony("GetStatus", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["colonyId"], "shop-test");
    assert_eq!(body["meshIpv4"], "10.42.0.1");
    assert_eq!(body["agents"], 3);
    assert_eq!(body["storage"], "duckdb");
    assert_eq!(body["status"], "healthy");
    let (_, events) = colony.colony("ListEvents", &json!({})).await;
    assert_eq!(events["events"].as_array().unwrap().len(), 3);
    assert_eq!(events["events"][0]["kind"], "agent_enrolled");
}

#[tokio::test]
async fn probes_and_start_line() {
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start(dir.path());
    assert_eq!(colony.get_text("/healthz").await.0, 200);
    assert_eq!(colony.get_text("/readyz").await.0, 200);
    let started = colony.logs().into_iter().any(|line| {
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        event["message"] == "Colony started successfully" && event["colony_id"] == "shop-test"
    });
    assert!(started, "{:?}", colony.logs());
}
