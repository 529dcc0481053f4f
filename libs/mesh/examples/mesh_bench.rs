//! Benchmark driver for `cargo xtask bench mesh` (root; release build): TCP
//! throughput between two network namespaces through one mesh tunnel against
//! the plain veth link under it, in alternating rounds so machine noise
//! cancels, and handshake latency (spoke start → session with the hub).
//!
//! Usage: mesh_bench [rounds] [seconds-per-run] [handshakes]

#[allow(dead_code)] // shared with the tests, which use more of it
#[path = "../tests/support/lab.rs"]
mod lab;
#[path = "../tests/support/ns_runtime.rs"]
mod ns_runtime;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use coral_mesh::{
    DEFAULT_HUB_IPV4, DEFAULT_PORT, MeshConfig, MeshInterface, PeerConfig, SecretKey,
};
use lab::Lab;
use ns_runtime::NsRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SINK_PORT: u16 = 7001;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let rounds = args.next().transpose()?.unwrap_or(5) as usize;
    let seconds = args.next().transpose()?.unwrap_or(3);
    let handshakes = args.next().transpose()?.unwrap_or(10) as usize;

    let lab = Lab::new(1)?;
    let (hub_rt, spoke_rt) = (
        NsRuntime::enter(&lab.hub)?,
        NsRuntime::enter(&lab.spokes[0])?,
    );
    let (hub_key, spoke_key) = (SecretKey::generate(), SecretKey::generate());
    let spoke_ip = "10.42.0.2".parse()?;
    let mut hub_config = MeshConfig::hub(hub_key.clone());
    hub_config.peers = vec![PeerConfig::spoke(spoke_key.public_key(), spoke_ip, None)];
    let hub = hub_rt.run(MeshInterface::start(hub_config))?;
    let hub_endpoint = lab.hub_endpoint(1, DEFAULT_PORT);
    let spoke_config = MeshConfig::spoke(spoke_key.clone(), spoke_ip, None)
        .with_peer(PeerConfig::hub(hub_key.public_key(), hub_endpoint));
    let spoke = spoke_rt.run(MeshInterface::start(spoke_config))?;

    let veth = SocketAddr::new(hub_endpoint.ip(), SINK_PORT);
    let tunnel = SocketAddr::new(IpAddr::V4(DEFAULT_HUB_IPV4), SINK_PORT);
    let run = Duration::from_secs(seconds);
    let (mut plain, mut meshed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let p = throughput(&hub_rt, &spoke_rt, veth, run)?;
        let m = throughput(&hub_rt, &spoke_rt, tunnel, run)?;
        println!(
            "round {round}: veth {:.2} Gbit/s, tunnel {:.2} Gbit/s",
            p, m
        );
        plain.push(p);
        meshed.push(m);
        ratios.push(m / p);
    }
    // Each latency run starts its own spoke on the same interface name.
    spoke_rt.run(spoke.shutdown())?;
    let mut latencies = Vec::new();
    for _ in 0..handshakes {
        latencies.push(handshake_latency(
            &spoke_rt,
            &spoke_key,
            &hub_key,
            hub_endpoint,
        )?);
    }
    hub_rt.run(hub.shutdown())?;

    println!();
    println!("TCP throughput, one stream, {rounds} rounds of {seconds} s (median [min–max]):");
    println!("  plain veth      {}", summary(&mut plain, "Gbit/s"));
    println!("  through tunnel  {}", summary(&mut meshed, "Gbit/s"));
    println!("  ratio tunnel ÷ veth {}", summary(&mut ratios, ""));
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    println!(
        "handshake latency, spoke start → session, {handshakes} runs: {}",
        summary(&mut ms, "ms")
    );
    Ok(())
}

/// One TCP stream from the spoke namespace to `to` for `run`; Gbit/s received.
fn throughput(hub: &NsRuntime, spoke: &NsRuntime, to: SocketAddr, run: Duration) -> Result<f64> {
    let listen = SocketAddr::new(to.ip(), to.port());
    let listener = hub.run(async move { TcpListener::bind(listen).await })?;
    let sink = hub.spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 1 << 16];
        let (mut total, start) = (0u64, Instant::now());
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return anyhow::Ok((total, start.elapsed()));
            }
            total += n as u64;
        }
    });
    spoke.run(async move {
        let mut stream = TcpStream::connect(to).await.context("connect")?;
        let chunk = vec![0x5au8; 1 << 16];
        let start = Instant::now();
        while start.elapsed() < run {
            stream.write_all(&chunk).await?;
        }
        stream.shutdown().await?;
        anyhow::Ok(())
    })?;
    let (bytes, elapsed) = hub.run(sink)??;
    Ok(bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9)
}

/// Starts a fresh spoke (new port, no session) and times its first session.
fn handshake_latency(
    spoke_rt: &NsRuntime,
    spoke_key: &SecretKey,
    hub_key: &SecretKey,
    hub_endpoint: SocketAddr,
) -> Result<Duration> {
    let config = MeshConfig::spoke(spoke_key.clone(), "10.42.0.2".parse()?, None)
        .with_peer(PeerConfig::hub(hub_key.public_key(), hub_endpoint));
    spoke_rt.run(async move {
        let start = Instant::now();
        let spoke = MeshInterface::start(config).await?;
        let latency = loop {
            let stats = spoke.stats().await?;
            if stats.peers[0].last_handshake_age.is_some() {
                break start.elapsed();
            }
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(10),
                "no handshake in 10 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        spoke.shutdown().await?;
        Ok(latency)
    })
}

fn summary(values: &mut [f64], unit: &str) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    format!(
        "{median:.3} {unit} [{:.3}–{:.3}]",
        values[0],
        values[values.len() - 1]
    )
}
