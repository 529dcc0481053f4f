//! The colony's WireGuard hub, for real: the colony runs in a network
//! namespace of its own, the test is the agent in the root namespace with a
//! real TUN device and tunnel. Enrollment works on the connect port; flow
//! batches are taken only through the tunnel; after a restart the colony
//! admits its agents again from the store and calls them first. Needs root (TUN, namespaces).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use coral_e2e::{LinkedNetns, poll_until};
use coral_mesh::{ColonyJoin, MeshInterface, SecretKey};
use serde_json::{Value, json};

use crate::support::{
    AGENT, BINARY, Colony, TOKEN, batch, edge, flow, spawn_command, u64_of, workload,
};

const WIREGUARD_PORT: u16 = 41580;

/// A mesh network of its own, so a colony on this machine is not disturbed.
fn mesh_octet() -> u8 {
    150 + (std::process::id() % 50) as u8
}

fn start_colony(netns: &LinkedNetns, data_dir: &std::path::Path, port: u16) -> Colony {
    let mut command = netns.command(BINARY);
    command
        .args(["--connect-port", &port.to_string()])
        .args(["--bind", &netns.ns_addr.to_string()])
        .args(["--mesh-ipv4-cidr", &format!("10.{}.0.0/16", mesh_octet())])
        .args(["--wireguard-port", &WIREGUARD_PORT.to_string()]);
    Colony::from_process(spawn_command(command, data_dir, &[]))
}

/// The agent's end, joined as the node-agent joins: a TUN device in the
/// root namespace with the address the colony assigned, the colony as its
/// one peer.
async fn join(key: &SecretKey, enrolled: &Value, colony_host: Ipv4Addr) -> MeshInterface {
    let field = |name: &str| enrolled[name].as_str().unwrap().to_owned();
    let join = ColonyJoin {
        colony_key: field("colonyPubkey").parse().unwrap(),
        colony_endpoint: SocketAddr::new(colony_host.into(), WIREGUARD_PORT),
        colony_ipv4: field("colonyMeshIpv4").parse().unwrap(),
        // IPv6 stays out of the root namespace: a colony on this machine may use fd42::/64.
        colony_ipv6: None,
        prefix: enrolled["meshIpv4Prefix"].as_u64().unwrap() as u8,
        own_ipv4: field("meshIpv4").parse().unwrap(),
        own_ipv6: None,
    };
    let interface = format!("ctm{}", std::process::id() % 100_000);
    let config = join.mesh_config(key.clone(), &interface).unwrap();
    MeshInterface::start(config)
        .await
        .expect("agent side of the mesh")
}

fn heartbeat_body() -> Value {
    json!({"agentId": "node-a", "sentAt": "2026-01-01T00:00:00Z"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_report_only_through_the_tunnel() {
    let netns = LinkedNetns::create("colony").expect("network namespace (needs root)");
    let dir = tempfile::tempdir().unwrap();
    let colony = start_colony(&netns, dir.path(), 0);
    let logs = colony.logs().join("\n");
    assert!(logs.contains("mesh hub listening"), "{logs}");

    // Enrollment on the connect port says how to join.
    let key = SecretKey::generate();
    let enroll = json!({
        "token": TOKEN, "agentId": "node-a", "pubkey": key.public_key().to_base64(),
        "nodeName": "node-a", "version": "test",
    });
    let (status, enrolled) = colony.agent("Enroll", &enroll).await;
    assert_eq!(status, 200, "{enrolled}");
    let octet = mesh_octet();
    assert_eq!(enrolled["meshIpv4"], format!("10.{octet}.0.2"));
    assert_eq!(enrolled["colonyMeshIpv4"], format!("10.{octet}.0.1"));
    assert_eq!(enrolled["colonyEndpoint"], format!(":{WIREGUARD_PORT}"));
    assert_eq!(enrolled["meshIpv4Prefix"], 16);
    assert_eq!(enrolled["colonyPubkey"].as_str().unwrap().len(), 44);

    // A wrong token enrolls nobody.
    let mut stranger = enroll.clone();
    stranger["token"] = json!("not-the-token");
    stranger["pubkey"] = json!(SecretKey::generate().public_key().to_base64());
    let (status, _) = colony.agent("Enroll", &stranger).await;
    assert_eq!(status, 401);

    // Outside the tunnel, batches and heartbeats are refused and nothing is stored.
    let web_api = flow(
        workload("shop", "web", 0),
        workload("shop", "api", 8080),
        3,
        100,
    );
    let (status, refused) = colony
        .report(&batch("node-a", 1, vec![web_api.clone()]))
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "permission_denied");
    let mesh_addr = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, octet, 0, 1)),
        colony.addr.port(),
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains(&mesh_addr.to_string()),
        "{refused}"
    );
    let (status, _) = colony.agent("Heartbeat", &heartbeat_body()).await;
    assert_eq!(status, 403);
    assert!(
        colony.topology(true).await["edges"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    // Through the tunnel they are taken.
    let spoke = join(&key, &enrolled, netns.ns_addr).await;
    heartbeat_through(mesh_addr).await;
    let (status, ack) = colony
        .post_to(
            mesh_addr,
            &format!("{AGENT}/ReportFlows"),
            &batch("node-a", 1, vec![web_api]),
        )
        .await;
    assert_eq!(status, 200, "{ack}");
    let topology = colony.topology(false).await;
    let e = edge(&topology, "shop/web", "shop/api").expect("edge stored");
    assert_eq!(u64_of(&e["connections"]), 3);
    let stats = spoke.stats().await.unwrap();
    assert!(stats.handshakes_completed >= 1, "{stats:?}");

    // The hub keeps where the agent calls from.
    let saved = dir.path().join(coral_colony::peer_endpoints::FILE);
    poll_until(
        "the agent's endpoint to be saved",
        Duration::from_secs(30),
        || async {
            let text = std::fs::read_to_string(&saved).unwrap_or_default();
            anyhow::Ok(if text.contains(&key.public_key().to_base64()) {
                Ok(())
            } else {
                Err(text)
            })
        },
    )
    .await
    .unwrap();

    // A restarted colony admits the agent again from its store and calls it
    // at that endpoint at once: a new session exists before the agent sends
    // anything, and the same tunnel carries reports without a new enrollment.
    let handshakes_before = spoke.stats().await.unwrap().handshakes_completed;
    let port = colony.addr.port();
    assert!(colony.stop().success());
    let colony = start_colony(&netns, dir.path(), port);
    let logs = colony.logs().join("\n");
    assert!(logs.contains("\"known_agents\":1"), "{logs}");
    assert!(logs.contains("\"handshakes_sent\":1"), "{logs}");
    poll_until(
        "the restarted hub's handshake with the agent",
        Duration::from_secs(10),
        || async {
            let stats = spoke.stats().await?;
            anyhow::Ok(if stats.handshakes_completed > handshakes_before {
                Ok(())
            } else {
                Err(stats)
            })
        },
    )
    .await
    .unwrap();
    heartbeat_through(mesh_addr).await;
    spoke.shutdown().await.unwrap();
}

/// Polls until a heartbeat to the colony's mesh address succeeds (the
/// first needs a handshake; after a colony restart a new one).
async fn heartbeat_through(mesh_addr: SocketAddr) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let url = format!("http://{mesh_addr}{AGENT}/Heartbeat");
    poll_until(
        "a heartbeat through the tunnel",
        Duration::from_secs(60),
        || async {
            let seen = match http.post(&url).json(&heartbeat_body()).send().await {
                Ok(response) if response.status() == 200 => return anyhow::Ok(Ok(())),
                Ok(response) => format!("{}: {}", response.status(), response.text().await?),
                Err(error) => error.to_string(),
            };
            anyhow::Ok(Err(seen))
        },
    )
    .await
    .unwrap();
}
