//! Kernel tests: real TUN devices and UDP between network namespaces these
//! tests create (root needed; they fail, not skip, without it). A hub runs in
//! one namespace, spokes in others, each on a runtime inside its namespace.

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Result;
use coral_mesh::{
    DEFAULT_HUB_IPV4, DEFAULT_HUB_IPV6, DEFAULT_PORT, MeshConfig, MeshInterface, MeshStats,
    PeerConfig, PublicKey, SecretKey,
};
use support::lab::Lab;
use support::ns_runtime::NsRuntime;
use support::traffic::{echo_roundtrip, echo_server, wait_for_echo};

const ECHO_PORT: u16 = 7000;

fn spoke_ipv4(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 42, 0, n)
}

fn spoke_ipv6(n: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd42, 0, 0, 0, 0, 0, 0, n.into())
}

fn at(ip: impl Into<IpAddr>) -> SocketAddr {
    SocketAddr::new(ip.into(), ECHO_PORT)
}

/// Starts a hub in its namespace with these peers and an echo server on its
/// mesh addresses.
fn start_hub(rt: &NsRuntime, key: &SecretKey, peers: Vec<PeerConfig>) -> Result<MeshInterface> {
    let mut config = MeshConfig::hub(key.clone());
    config.peers = peers;
    rt.run(async move {
        let hub = MeshInterface::start(config).await?;
        echo_server(at(DEFAULT_HUB_IPV4)).await?;
        echo_server(at(DEFAULT_HUB_IPV6)).await?;
        Ok(hub)
    })
}

/// Starts spoke `n` (mesh host n) that knows the hub at `hub_endpoint`.
fn start_spoke(
    rt: &NsRuntime,
    key: &SecretKey,
    n: u8,
    hub: PublicKey,
    hub_endpoint: SocketAddr,
) -> Result<MeshInterface> {
    let config = MeshConfig::spoke(key.clone(), spoke_ipv4(n), Some(spoke_ipv6(n)))
        .with_peer(PeerConfig::hub(hub, hub_endpoint));
    rt.run(async move { Ok(MeshInterface::start(config).await?) })
}

fn stats(rt: &NsRuntime, mesh: &MeshInterface) -> MeshStats {
    let handle = mesh.handle();
    rt.run(async move { handle.stats().await }).expect("stats")
}

fn shutdown(rt: &NsRuntime, mesh: MeshInterface) {
    rt.run(mesh.shutdown()).expect("clean shutdown");
}

#[test]
fn tcp_from_spoke_to_hub_over_ipv4_and_ipv6() -> Result<()> {
    let lab = Lab::new(1)?;
    let (hub_rt, spoke_rt) = (
        NsRuntime::enter(&lab.hub)?,
        NsRuntime::enter(&lab.spokes[0])?,
    );
    let (hub_key, spoke_key) = (SecretKey::generate(), SecretKey::generate());
    let spoke_peer = PeerConfig::spoke(spoke_key.public_key(), spoke_ipv4(2), Some(spoke_ipv6(2)));
    let hub = start_hub(&hub_rt, &hub_key, vec![spoke_peer])?;

    let started = Instant::now();
    let spoke = start_spoke(
        &spoke_rt,
        &spoke_key,
        2,
        hub_key.public_key(),
        lab.hub_endpoint(1, DEFAULT_PORT),
    )?;
    let first = spoke_rt.run(wait_for_echo(at(DEFAULT_HUB_IPV4), Duration::from_secs(10)))?;
    println!(
        "first echo through a new tunnel after {:?} (from spoke start {:?})",
        first,
        started.elapsed()
    );

    spoke_rt.run(echo_roundtrip(
        at(DEFAULT_HUB_IPV4),
        4 << 20,
        Duration::from_secs(30),
    ))?;
    spoke_rt.run(echo_roundtrip(
        at(DEFAULT_HUB_IPV6),
        1 << 20,
        Duration::from_secs(30),
    ))?;

    let hub_stats = stats(&hub_rt, &hub);
    let peer = hub_stats
        .peer(&spoke_key.public_key())
        .expect("spoke is a peer");
    assert!(hub_stats.handshakes_completed >= 1, "{hub_stats:?}");
    assert_eq!(hub_stats.handshakes_rejected, 0);
    assert!(
        peer.rx_bytes > 5 << 20 && peer.tx_bytes > 5 << 20,
        "{peer:?}"
    );
    assert!(peer.last_handshake_age.is_some());
    // The hub learned where the spoke is from its packets (roaming).
    assert_eq!(peer.endpoint.map(|e| e.ip()), Some("10.200.1.2".parse()?));

    shutdown(&spoke_rt, spoke);
    shutdown(&hub_rt, hub);
    assert!(
        !lab.has_link(&lab.hub, "coral0"),
        "TUN device left after shutdown"
    );
    assert!(
        !lab.has_link(&lab.spokes[0], "coral0"),
        "TUN device left after shutdown"
    );
    Ok(())
}

#[test]
fn an_unknown_key_gets_no_session() -> Result<()> {
    let lab = Lab::new(1)?;
    let (hub_rt, spoke_rt) = (
        NsRuntime::enter(&lab.hub)?,
        NsRuntime::enter(&lab.spokes[0])?,
    );
    let hub_key = SecretKey::generate();
    let enrolled = SecretKey::generate().public_key();
    let hub = start_hub(
        &hub_rt,
        &hub_key,
        vec![PeerConfig::spoke(enrolled, spoke_ipv4(2), None)],
    )?;

    // A stranger that knows the hub's key and address, and even uses the
    // enrolled agent's mesh IP.
    let stranger = SecretKey::generate();
    let spoke = start_spoke(
        &spoke_rt,
        &stranger,
        2,
        hub_key.public_key(),
        lab.hub_endpoint(1, DEFAULT_PORT),
    )?;
    let attempt = spoke_rt.run(echo_roundtrip(
        at(DEFAULT_HUB_IPV4),
        1024,
        Duration::from_secs(3),
    ));
    assert!(
        attempt.is_err(),
        "a peer with an unknown key reached the hub"
    );

    let hub_stats = stats(&hub_rt, &hub);
    assert!(hub_stats.handshakes_rejected >= 1, "{hub_stats:?}");
    assert_eq!(hub_stats.handshakes_completed, 0);
    assert!(hub_stats.peer(&stranger.public_key()).is_none());
    let spoke_stats = stats(&spoke_rt, &spoke);
    assert_eq!(
        spoke_stats.peers[0].last_handshake_age, None,
        "the stranger got a session"
    );
    assert_eq!(spoke_stats.peers[0].rx_bytes, 0);

    shutdown(&spoke_rt, spoke);
    shutdown(&hub_rt, hub);
    Ok(())
}

#[test]
fn spokes_resume_seconds_after_a_hub_restart() -> Result<()> {
    let lab = Lab::new(1)?;
    let (hub_rt, spoke_rt) = (
        NsRuntime::enter(&lab.hub)?,
        NsRuntime::enter(&lab.spokes[0])?,
    );
    let (hub_key, spoke_key) = (SecretKey::generate(), SecretKey::generate());
    let spoke_peer = PeerConfig::spoke(spoke_key.public_key(), spoke_ipv4(2), None);
    let hub = start_hub(&hub_rt, &hub_key, vec![spoke_peer.clone()])?;
    let spoke = start_spoke(
        &spoke_rt,
        &spoke_key,
        2,
        hub_key.public_key(),
        lab.hub_endpoint(1, DEFAULT_PORT),
    )?;
    spoke_rt.run(wait_for_echo(at(DEFAULT_HUB_IPV4), Duration::from_secs(10)))?;

    // The colony persists its peers with their last endpoint, then restarts.
    let last_endpoint = stats(&hub_rt, &hub).peers[0]
        .endpoint
        .expect("endpoint learned");
    shutdown(&hub_rt, hub);
    assert!(
        !lab.has_link(&lab.hub, "coral0"),
        "TUN device left after shutdown"
    );
    let restarted = Instant::now();
    // The echo server keeps listening on the hub's address across the restart.
    let mut config = MeshConfig::hub(hub_key.clone());
    config.peers = vec![spoke_peer.endpoint(last_endpoint)];
    let hub = hub_rt.run(MeshInterface::start(config))?;
    let back = spoke_rt.run(wait_for_echo(at(DEFAULT_HUB_IPV4), Duration::from_secs(40)))?;
    println!(
        "after a hub restart the spoke's traffic resumed in {back:?} ({:?} from restart)",
        restarted.elapsed()
    );
    let hub_stats = stats(&hub_rt, &hub);
    assert!(hub_stats.handshakes_completed >= 1, "{hub_stats:?}");

    shutdown(&spoke_rt, spoke);
    shutdown(&hub_rt, hub);
    Ok(())
}

#[test]
fn two_spokes_talk_through_the_hub_relay() -> Result<()> {
    let lab = Lab::new(2)?;
    let hub_rt = NsRuntime::enter(&lab.hub)?;
    let (a_rt, b_rt) = (
        NsRuntime::enter(&lab.spokes[0])?,
        NsRuntime::enter(&lab.spokes[1])?,
    );
    let (hub_key, a_key, b_key) = (
        SecretKey::generate(),
        SecretKey::generate(),
        SecretKey::generate(),
    );
    // No endpoints: the hub learns both from their handshakes.
    let hub = start_hub(
        &hub_rt,
        &hub_key,
        vec![
            PeerConfig::spoke(a_key.public_key(), spoke_ipv4(2), Some(spoke_ipv6(2))),
            PeerConfig::spoke(b_key.public_key(), spoke_ipv4(3), Some(spoke_ipv6(3))),
        ],
    )?;
    let a = start_spoke(
        &a_rt,
        &a_key,
        2,
        hub_key.public_key(),
        lab.hub_endpoint(1, DEFAULT_PORT),
    )?;
    let b = start_spoke(
        &b_rt,
        &b_key,
        3,
        hub_key.public_key(),
        lab.hub_endpoint(2, DEFAULT_PORT),
    )?;
    b_rt.run(async {
        echo_server(at(spoke_ipv4(3))).await?;
        echo_server(at(spoke_ipv6(3))).await
    })?;
    // The hub forwards in user space, not through the kernel.
    let forwarding = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.hub,
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ])
        .output()?;
    assert_eq!(String::from_utf8_lossy(&forwarding.stdout).trim(), "0");

    a_rt.run(wait_for_echo(at(spoke_ipv4(3)), Duration::from_secs(10)))?;
    a_rt.run(echo_roundtrip(
        at(spoke_ipv4(3)),
        1 << 20,
        Duration::from_secs(30),
    ))?;
    a_rt.run(echo_roundtrip(
        at(spoke_ipv6(3)),
        256 << 10,
        Duration::from_secs(30),
    ))?;

    let hub_stats = stats(&hub_rt, &hub);
    assert!(hub_stats.relayed_packets > 100, "{hub_stats:?}");
    assert_eq!(hub_stats.dropped_bad_source, 0);

    // A removed peer is cut off at once.
    let (handle, key) = (hub.handle(), b_key.public_key());
    assert!(hub_rt.run(async move { handle.remove_peer(&key).await })?);
    let cut = a_rt.run(echo_roundtrip(
        at(spoke_ipv4(3)),
        1024,
        Duration::from_secs(2),
    ));
    assert!(cut.is_err(), "traffic reached a removed peer");

    for (rt, mesh) in [(&a_rt, a), (&b_rt, b), (&hub_rt, hub)] {
        shutdown(rt, mesh);
    }
    Ok(())
}
