//! The agent with the real colony: the real `coral-colony` binary (DuckDB)
//! and the real `coral-node-agent` in host mode, real TCP between two
//! network namespaces. The colony's topology must show exactly the
//! connections made, also when the colony crashes and comes back under
//! traffic. Needs root (BPF); fails, not skips, without it.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use coral_e2e::LinkedNetns;
use serde_json::Value;
use support::colony::{Agent, Colony, TOKEN, edge, eventually, u64_of};
use support::netns::NetnsPair;
use support::traffic::{self, CLOSED_PORT, Server};

const SERVER_PORT: u16 = 8080;
const REQUEST: usize = 1_000;
const RESPONSE: usize = 3_000;

/// Addresses no other test uses (the agent attributes by address, and it
/// sees every namespace on the machine); each test passes its own `slot`.
fn addresses(slot: u8) -> (IpAddr, IpAddr) {
    let octet = (std::process::id() % 200 + 20) as u8;
    (
        IpAddr::from([10, 79 + slot, octet, 1]),
        IpAddr::from([10, 79 + slot, octet, 2]),
    )
}

fn agent_args(colony: SocketAddr, client: IpAddr, server: IpAddr) -> Vec<String> {
    [
        "--mode".into(),
        "host".into(),
        "--workload".into(),
        format!("itest/client={client}"),
        "--workload".into(),
        format!("itest/server={server}:{SERVER_PORT}"),
        "--colony-endpoint".into(),
        format!("http://{colony}"),
        "--enrollment-token".into(),
        TOKEN.into(),
        "--agent-id".into(),
        format!("itest-{}", std::process::id()),
        "--drain-interval".into(),
        "1".into(),
        "--max-retry-interval".into(),
        "1".into(),
    ]
    .to_vec()
}

/// (connections, failed, bytes sent, bytes received) of client → `to`:`port`.
fn edge_counts(topology: &Value, to: &str, port: u16) -> Option<(u64, u64, u64, u64)> {
    edge(topology, "itest/client", to, port).map(|e| {
        (
            u64_of(&e["connections"]),
            u64_of(&e["failedConnections"]),
            u64_of(&e["bytesSent"]),
            u64_of(&e["bytesReceived"]),
        )
    })
}

fn connections(topology: &Value, port: u16) -> Option<(u64, u64, u64, u64)> {
    edge_counts(topology, "itest/server", port)
}

fn make_requests(pair: &NetnsPair, to: SocketAddr, n: usize) -> Result<()> {
    pair.client
        .spawn(move || {
            for _ in 0..n {
                traffic::request(to, REQUEST, RESPONSE)?;
            }
            Ok(())
        })
        .join()
        .expect("client panicked")
}

fn within_1_percent(measured: u64, expected: u64) -> bool {
    measured.abs_diff(expected) as f64 <= expected as f64 * 0.01
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reach_the_colony_exactly_once_across_a_colony_crash() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let colony_dir = dir.path().join("colony");
    let colony = Colony::start(&colony_dir, 0);
    let colony_addr = colony.addr;
    let (client_ip, server_ip) = addresses(0);
    let pair = NetnsPair::create_with(client_ip, server_ip, 24)?;
    let server_addr = SocketAddr::new(server_ip, SERVER_PORT);
    let server = Server::start(&pair.server, server_addr, RESPONSE)?;
    let agent = Agent::start(
        &dir.path().join("agent"),
        &agent_args(colony_addr, client_ip, server_ip),
    );

    // Phase 1: a known exchange, and refused connects.
    const FIRST: u64 = 50;
    const REFUSED: u64 = 5;
    make_requests(&pair, server_addr, FIRST as usize)?;
    pair.client
        .spawn(move || traffic::refused(server_ip, REFUSED as usize))
        .join()
        .expect("client panicked")?;
    let traffic_done = Instant::now();
    let seen = eventually(Duration::from_secs(30), async || {
        connections(&colony.topology().await, SERVER_PORT).filter(|c| c.0 >= FIRST)
    })
    .await;
    let latency = traffic_done.elapsed();
    let (opened, failed, sent, received) = seen.unwrap_or_else(|| {
        panic!(
            "the edge itest/client → itest/server never reached {FIRST} connections; agent logs: {:#?}",
            agent.process.logs()
        )
    });
    println!("phase 1: {opened} connections in the colony {latency:?} after the traffic");
    assert_eq!(opened, FIRST);
    assert_eq!(failed, 0);
    // Kernel byte counters include one each for SYN and FIN.
    assert!(
        within_1_percent(sent, FIRST * REQUEST as u64),
        "bytes sent {sent}"
    );
    assert!(
        within_1_percent(received, FIRST * RESPONSE as u64),
        "bytes received {received}"
    );
    let refused = eventually(Duration::from_secs(15), async || {
        // Nothing is named on the closed port: the server's address is an
        // external endpoint there.
        edge_counts(
            &colony.topology().await,
            &server_ip.to_string(),
            CLOSED_PORT,
        )
        .filter(|c| c.1 >= REFUSED)
    })
    .await
    .expect("refused connects never showed up as failed connections");
    assert_eq!((refused.0, refused.1), (0, REFUSED));
    // The server side saw the same connections inbound; they are left to the
    // client's report, not counted twice.
    assert!(agent.metric("flows_left_to_client_total").await >= 1);

    // Phase 2: steady traffic while the colony crashes and restarts.
    let stop = Arc::new(AtomicBool::new(false));
    let client = pair.client.spawn({
        let stop = stop.clone();
        move || {
            let mut made = 0u64;
            while !stop.load(Ordering::Relaxed) {
                traffic::request(server_addr, REQUEST, RESPONSE)?;
                made += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(made)
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    colony.kill();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let buffered = agent.metric("batches_buffered").await;
    let failed_sends = agent.metric("batches_failed_total").await;
    assert!(
        buffered >= 2,
        "batches buffered while the colony was down: {buffered}"
    );
    assert!(
        failed_sends >= 1,
        "failed sends while the colony was down: {failed_sends}"
    );
    let colony = Colony::start(&colony_dir, colony_addr.port());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let second = client.join().expect("client panicked")?;
    let total = FIRST + second;

    let reached = eventually(Duration::from_secs(30), async || {
        connections(&colony.topology().await, SERVER_PORT).filter(|c| c.0 >= total)
    })
    .await;
    assert!(
        reached.is_some(),
        "after the restart the colony never counted all {total} connections: {:?}",
        connections(&colony.topology().await, SERVER_PORT)
    );
    // Let a few more drains pass: nothing may be counted twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (opened, ..) = connections(&colony.topology().await, SERVER_PORT).expect("edge");
    println!(
        "phase 2: {second} connections under a colony crash; colony counts {opened} of {total}; \
         {buffered} batches were buffered"
    );
    assert_eq!(
        opened, total,
        "connections made {total}, colony counted {opened}"
    );
    assert_eq!(agent.metric("batches_dropped_total").await, 0);
    assert_eq!(agent.metric("batches_buffered").await, 0);
    assert_eq!(agent.metric("flow_map_overflows_total").await, 0);
    assert_eq!(server.stop()?, total, "the server served every connection");

    let status = agent.process.stop();
    assert!(status.success(), "agent exit: {status:?}");
    drop(colony);
    Ok(())
}

/// With the colony's WireGuard hub (the colony in a namespace of its own,
/// reached over a veth link) the agent enrolls on the connect port, joins
/// the mesh and reports through the tunnel. The colony takes batches only
/// there, so exact counts show the tunnel carried them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reported_through_the_mesh() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let netns = LinkedNetns::create("agentmesh")?;
    let mesh_cidr = format!("10.{}.0.0/16", std::process::id() % 40 + 100);
    let colony = Colony::start_in(&netns, &dir.path().join("colony"), &mesh_cidr);
    let (client_ip, server_ip) = addresses(2);
    let pair = NetnsPair::create_with(client_ip, server_ip, 24)?;
    let server_addr = SocketAddr::new(server_ip, SERVER_PORT);
    let server = Server::start(&pair.server, server_addr, RESPONSE)?;
    let mut args = agent_args(colony.addr, client_ip, server_ip);
    args.extend([
        "--mesh-interface".into(),
        format!("cra{}", std::process::id() % 100_000),
    ]);
    let agent = Agent::start(&dir.path().join("agent"), &args);

    const MADE: u64 = 20;
    make_requests(&pair, server_addr, MADE as usize)?;
    let seen = eventually(Duration::from_secs(60), async || {
        connections(&colony.topology().await, SERVER_PORT).filter(|c| c.0 >= MADE)
    })
    .await;
    assert_eq!(
        seen.map(|c| c.0),
        Some(MADE),
        "agent logs: {:#?}\ncolony logs: {:#?}",
        agent.process.logs(),
        colony.logs()
    );
    let logs = agent.process.logs().join("\n");
    assert!(logs.contains("joined the colony's mesh"), "{logs}");
    assert!(agent.metric("batches_sent_total").await >= 1);
    let up = eventually(Duration::from_secs(30), async || {
        (agent.metric("mesh_up").await == 1).then_some(())
    })
    .await;
    assert!(up.is_some(), "mesh_up never became 1");
    assert!(agent.metric("mesh_handshake_age_seconds").await < 180);
    // Its host-mode workloads came with its heartbeats: they are components.
    let components = eventually(Duration::from_secs(30), async || {
        let listed = colony.components().await;
        (listed.len() == 2).then_some(listed)
    })
    .await
    .expect("the agent's workloads listed as components");
    let listed = components
        .iter()
        .find(|c| c["name"] == "server")
        .expect("server component");
    assert_eq!(listed["namespace"], "itest");
    assert_eq!(listed["kind"], "Process");
    assert_eq!(listed["status"], "up");
    assert_eq!(listed["ports"], serde_json::json!([SERVER_PORT]));
    assert!(agent.process.stop().success());
    assert_eq!(server.stop()?, MADE);
    drop(colony);
    Ok(())
}

/// Without capabilities the agent refuses to start and says what is missing.
#[test]
fn without_capabilities_the_agent_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-all", "--inh-caps", "-all"])
        .arg(env!("CARGO_BIN_EXE_coral-node-agent"))
        .args(["--mode", "host", "--workload", "a=10.0.0.1"])
        .args(["--colony-endpoint", "http://127.0.0.1:9"])
        .args(["--enrollment-token", "t", "--log-format", "json"])
        .arg("--state-dir")
        .arg(dir.path())
        .output()
        .expect("run setpriv (util-linux)");
    let logs = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{logs}");
    assert!(logs.contains("cannot start"), "{logs}");
    assert!(logs.contains("CAP_BPF"), "{logs}");
    assert!(logs.contains("securityContext.capabilities"), "{logs}");
}

/// With no colony the agent still starts, captures and serves /healthz,
/// and says what to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_colony_is_retried_with_a_log_line_saying_what_to_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let (client_ip, server_ip) = addresses(1);
    let agent = Agent::start(
        &dir.path().join("agent"),
        &agent_args(nobody, client_ip, server_ip),
    );
    let warned = eventually(Duration::from_secs(20), async || {
        agent
            .process
            .logs()
            .into_iter()
            .find(|line| line.contains("colony unreachable"))
    })
    .await
    .unwrap_or_else(|| panic!("no 'colony unreachable' line: {:#?}", agent.process.logs()));
    assert!(warned.contains("--colony-endpoint"), "{warned}");
    assert!(warned.contains(&nobody.to_string()), "{warned}");
    for path in ["healthz", "readyz"] {
        let status = reqwest::get(format!("http://{}/{path}", agent.metrics_addr))
            .await?
            .status();
        assert_eq!(status, 200, "/{path}");
    }
    assert_eq!(agent.metric("enrolled").await, 0);
    assert!(agent.process.stop().success());
    // The key was generated and kept in the state directory.
    let key = std::fs::read_to_string(dir.path().join("agent/wireguard.key"))?;
    assert_eq!(key.trim().len(), 44, "base64 of 32 bytes");
    Ok(())
}
