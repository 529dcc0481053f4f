//! One agent, two colonies: the reporters of `--colonies-file`, each with
//! its own WireGuard tunnel, against two real `coral-colony` binaries, each
//! in a network namespace of its own with its own mesh network. Each colony
//! takes batches only through its tunnel, so each must count exactly the
//! flows routed to it. Dropping a colony from the file stops its reporter
//! and takes its tunnel down; the other keeps reporting. Needs root (TUN
//! devices, namespaces); fails, not skips, without it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use coral_e2e::LinkedNetns;
use coral_mesh::SecretKey;
use coral_node_agent::colony_targets::{ColonyTarget, interface_name};
use coral_node_agent::metrics::Metrics;
use coral_node_agent::report::{Fanout, FanoutSettings, PendingBatch};
use coral_node_agent::state::StateDir;
use coral_proto::Timestamp;
use coral_proto::agent::v1::{Endpoint, Flow, WorkloadKind};
use support::colony::{Colony, TOKEN, edge, eventually, u64_of};

const PORT: u16 = 8080;

/// One outbound flow `shop/web → shop/<server>` of `connections`.
fn batch(server: &str, connections: u64) -> PendingBatch {
    let end = |workload: &str, port: u32| Endpoint {
        ip: "10.0.0.1".into(),
        port,
        namespace: "shop".into(),
        workload: workload.into(),
        kind: WorkloadKind::Deployment.into(),
        ..Endpoint::default()
    };
    PendingBatch {
        sequence: None,
        window_start: Timestamp::now(),
        window_end: Timestamp::now(),
        flows: vec![Flow {
            source: Some(end("web", 0)),
            destination: Some(end(server, u32::from(PORT))),
            connections_opened: connections,
            connections_closed: connections,
            ..Flow::default()
        }],
    }
}

async fn connections_to(colony: &Colony, server: &str) -> u64 {
    let topology = colony.topology().await;
    edge(&topology, "shop/web", &format!("shop/{server}"), PORT)
        .map_or(0, |edge| u64_of(&edge["connections"]))
}

fn target(colony: &str, at: &Colony) -> ColonyTarget {
    ColonyTarget {
        colony: colony.to_owned(),
        endpoint: format!("http://{}", at.addr),
        enrollment_token: TOKEN.to_owned(),
        interface: interface_name(colony),
    }
}

fn device_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_colony_gets_its_flows_through_its_own_tunnel() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let base = std::process::id() % 40;
    let (one_ns, two_ns) = (
        LinkedNetns::create("fanone")?,
        LinkedNetns::create("fantwo")?,
    );
    let one = Colony::start_in(
        &one_ns,
        &dir.path().join("one"),
        &format!("10.{}.0.0/16", base + 120),
    );
    let two = Colony::start_in(
        &two_ns,
        &dir.path().join("two"),
        &format!("10.{}.0.0/16", base + 200),
    );
    // Names of this process's own, so the TUN devices are too.
    let (one_name, two_name) = (
        format!("fanout-{}/one", std::process::id()),
        format!("fanout-{}/two", std::process::id()),
    );

    let metrics = Arc::new(Metrics::new());
    let state = StateDir::open(&dir.path().join("agent"))?;
    let mut fanout = Fanout::new(
        FanoutSettings {
            agent_id: "fanout-node".into(),
            node_name: "fanout-node".into(),
            key: SecretKey::generate(),
            heartbeat_interval: Duration::from_secs(1),
            buffer_batches: 100,
            max_retry_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            per_colony_state: true,
            components: Default::default(),
        },
        metrics.clone(),
        state,
    );
    fanout
        .apply(vec![target(&one_name, &one), target(&two_name, &two)])
        .await;
    assert_eq!(fanout.colonies(), 2);
    assert!(fanout.send(&one_name, batch("api", 3)));
    assert!(fanout.send(&two_name, batch("database", 5)));
    assert!(
        !fanout.send("elsewhere/none", batch("api", 1)),
        "a colony the agent does not report to takes nothing"
    );

    let both = eventually(Duration::from_secs(60), async || {
        let counts = (
            connections_to(&one, "api").await,
            connections_to(&two, "database").await,
        );
        (counts == (3, 5)).then_some(counts)
    })
    .await;
    assert_eq!(
        both,
        Some((3, 5)),
        "colony one: {:#?}\ncolony two: {:#?}",
        one.logs(),
        two.logs()
    );
    // Nothing crossed over.
    assert_eq!(connections_to(&one, "database").await, 0);
    assert_eq!(connections_to(&two, "api").await, 0);
    assert!(device_exists(&interface_name(&one_name)));
    assert!(device_exists(&interface_name(&two_name)));
    let text = metrics.render();
    for colony in [&one_name, &two_name] {
        let enrolled = format!("coral_node_agent_enrolled{{colony=\"{colony}\"}} 1");
        assert!(text.contains(&enrolled), "{enrolled} missing:\n{text}");
    }
    // Each colony numbers this agent's batches on its own.
    let sequence_files = std::fs::read_dir(dir.path().join("agent"))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("sequence."))
        .count();
    assert_eq!(sequence_files, 2);

    // Colony two leaves the file: its reporter stops, its tunnel goes.
    fanout.apply(vec![target(&one_name, &one)]).await;
    assert_eq!(fanout.colonies(), 1);
    assert!(!device_exists(&interface_name(&two_name)));
    assert!(!metrics.render().contains(&two_name));
    assert!(!fanout.send(&two_name, batch("database", 1)));
    assert!(fanout.send(&one_name, batch("api", 4)));
    let seen = eventually(Duration::from_secs(30), async || {
        let count = connections_to(&one, "api").await;
        (count == 7).then_some(count)
    })
    .await;
    assert_eq!(seen, Some(7), "colony one: {:#?}", one.logs());
    assert_eq!(connections_to(&two, "database").await, 5);

    fanout.finish().await;
    assert!(!device_exists(&interface_name(&one_name)));
    Ok(())
}
