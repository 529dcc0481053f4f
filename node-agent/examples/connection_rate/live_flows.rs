//! Many distinct flows at once: 100 more server addresses × 100 server
//! ports, each address its own host-mode workload, so every (address, port)
//! is a flow in the kernel map and an edge in the colony. Connections cycle
//! through all of them for several drain intervals while the agent's peak
//! RSS is read.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::netns::NetnsPair;
use crate::processes::{Agent, Colony, Http};
use crate::server::Server;

const ADDRESSES: u8 = 100;
const FIRST_ADDRESS_OCTET: u8 = 10;
const PORTS: u16 = 100;
const FIRST_PORT: u16 = 7100;
pub const CLIENT_WORKLOAD: &str = "bench/client";
const SERVER_WORKLOAD_PREFIX: &str = "bench/server-";

/// The server side of the flows: addresses on the server's veth, one
/// listener per port on all of them.
pub struct Grid {
    pub addrs: Vec<IpAddr>,
    pub ports: Vec<u16>,
    servers: Vec<Server>,
}

impl Grid {
    /// Addresses next to the pair's on its /24.
    pub fn start(pair: &NetnsPair) -> Result<Self> {
        let IpAddr::V4(server) = pair.server_addr else {
            anyhow::bail!("the grid is IPv4");
        };
        let [a, b, c, _] = server.octets();
        let addrs: Vec<IpAddr> = (0..ADDRESSES)
            .map(|i| IpAddr::V4(Ipv4Addr::new(a, b, c, FIRST_ADDRESS_OCTET + i)))
            .collect();
        for addr in &addrs {
            coral_e2e::ip_in(
                &pair.server.name,
                &["addr", "add", &format!("{addr}/24"), "dev", "veth-s"],
            )?;
        }
        let ports: Vec<u16> = (FIRST_PORT..FIRST_PORT + PORTS).collect();
        let servers = ports
            .iter()
            .map(|&port| {
                Server::start(
                    &pair.server,
                    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
                    &pair.client,
                    SocketAddr::new(pair.server_addr, port),
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            addrs,
            ports,
            servers,
        })
    }

    /// The host-mode workload serving address number `i`.
    pub fn workload(i: usize) -> String {
        format!("{SERVER_WORKLOAD_PREFIX}{i}")
    }

    /// `--workload` flags naming every grid address.
    pub fn workload_args(&self) -> Vec<String> {
        self.addrs
            .iter()
            .enumerate()
            .flat_map(|(i, addr)| ["--workload".into(), format!("{}={addr}", Self::workload(i))])
            .collect()
    }

    pub fn stop(self) -> Result<()> {
        for server in self.servers {
            server.stop()?;
        }
        Ok(())
    }
}

/// One connection from the client namespace to `to`, closed by the server.
pub fn connect_once(pair: &NetnsPair, to: SocketAddr) -> Result<()> {
    pair.client
        .spawn(move || {
            let mut stream = TcpStream::connect(to)?;
            stream.read_to_end(&mut Vec::new())?;
            Ok(())
        })
        .join()
        .expect("client panicked")
}

pub struct LiveFlows {
    /// Distinct client flows per pass.
    pub flows: usize,
    pub passes: u64,
    pub seconds: f64,
    /// Every connection made on grid edges in the run (this phase and before).
    pub made: u64,
    /// Grid edges in the colony's topology and their connections.
    pub colony_edges: usize,
    pub colony_counted: u64,
    pub overflows: u64,
    /// Agent VmRSS before the flows, VmHWM after.
    pub rss_before: u64,
    pub peak_rss: u64,
}

/// Cycles through every grid flow for at least `duration` (whole passes),
/// then waits for the colony to hold them and reads the agent's peak RSS.
/// `made_before`: connections already made on grid edges.
pub fn measure(
    pair: &NetnsPair,
    grid: &Grid,
    colony: &Colony,
    http: &Http,
    agent: &Agent,
    duration: Duration,
    made_before: u64,
) -> Result<LiveFlows> {
    let rss_before = agent.memory()?.current;
    let targets: Vec<SocketAddr> = grid
        .addrs
        .iter()
        .flat_map(|&addr| {
            grid.ports
                .iter()
                .map(move |&port| SocketAddr::new(addr, port))
        })
        .collect();
    let flows = targets.len();
    let (passes, made, seconds) = pair
        .client
        .spawn(move || {
            let started = Instant::now();
            let (mut passes, mut made) = (0u64, 0u64);
            let mut eof = Vec::new();
            while started.elapsed() < duration {
                for &to in &targets {
                    let mut stream = TcpStream::connect(to)?;
                    stream.read_to_end(&mut eof)?;
                    made += 1;
                }
                passes += 1;
            }
            Ok((passes, made, started.elapsed().as_secs_f64()))
        })
        .join()
        .expect("client panicked")?;

    let made = made_before + made;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (colony_edges, colony_counted) = loop {
        let (edges, counted) = grid_edges(colony, http)?;
        if (edges >= flows && counted >= made) || Instant::now() > deadline {
            break (edges, counted);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let peak_rss = agent.memory()?.peak;
    let overflows = agent.metric(http, "flow_map_overflows_total")?;
    Ok(LiveFlows {
        flows,
        passes,
        seconds,
        made,
        colony_edges,
        colony_counted,
        overflows,
        rss_before,
        peak_rss,
    })
}

/// How many client → grid edges the colony has, and their connections.
fn grid_edges(colony: &Colony, http: &Http) -> Result<(usize, u64)> {
    let edges = colony.edges(http)?;
    let grid = edges.iter().filter(|e| {
        e.source == CLIENT_WORKLOAD && e.destination.starts_with(SERVER_WORKLOAD_PREFIX)
    });
    Ok(grid.fold((0, 0), |(n, sum), e| (n + 1, sum + e.connections)))
}
