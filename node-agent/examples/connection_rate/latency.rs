//! Time from a connection to its edge in `GetTopology`: one connection on
//! an edge the colony has not seen, then `GetTopology` every 100 ms until
//! the edge is there.
//!
//! The agent sends what it drained every drain interval, so the wait
//! depends on where in the interval the connection falls. Each trial starts
//! a different fraction of the interval after the previous edge appeared
//! (that is, just after a drain), so the trials cover the whole interval.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::live_flows::{CLIENT_WORKLOAD, Grid, connect_once};
use crate::netns::NetnsPair;
use crate::processes::{Colony, Http};

const POLL: Duration = Duration::from_millis(100);
const GIVE_UP: Duration = Duration::from_secs(60);

/// `trials` connections on fresh grid edges (server address `i`, the first
/// grid port); the time each took to show.
pub fn time_to_topology(
    pair: &NetnsPair,
    grid: &Grid,
    colony: &Colony,
    http: &Http,
    drain_interval: Duration,
    trials: usize,
) -> Result<Vec<Duration>> {
    let port = grid.ports[0];
    let mut times = Vec::new();
    for (trial, &addr) in grid.addrs.iter().enumerate().take(trials) {
        std::thread::sleep(drain_interval.mul_f64(trial as f64 / trials as f64));
        connect_once(pair, SocketAddr::new(addr, port))?;
        let made = Instant::now();
        let destination = Grid::workload(trial);
        while colony.connections(http, CLIENT_WORKLOAD, &destination, port)? == 0 {
            if made.elapsed() > GIVE_UP {
                bail!(
                    "{CLIENT_WORKLOAD} → {destination}:{port} not in GetTopology after \
                     {GIVE_UP:?}; colony logs: {:#?}",
                    colony.logs()
                );
            }
            std::thread::sleep(POLL);
        }
        let waited = made.elapsed();
        eprintln!("time to topology, trial {}: {waited:.2?}", trial + 1);
        times.push(waited);
    }
    Ok(times)
}
