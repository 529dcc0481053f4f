//! `cargo xtask bench <target>`: each target prints its own figures.

mod agent;
mod colony;
mod discovery;
mod mesh;
mod operator;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Target {
    /// Node-agent: connection-rate ratios (agent, flow program, empty hook ÷ none), colony count
    /// vs made, agent CPU per 1,000 conn/s, peak RSS with 10,000 flows, time to GetTopology.
    Agent(agent::Args),
    /// Colony: ingest rows/s and GetTopology p50/p99 (DuckDB and ClickHouse) over 24 h of rollups.
    Colony(colony::Args),
    /// Discovery lookups/s and p99 over HTTP/2 with 10,000 live colonies.
    Discovery(discovery::Args),
    /// Mesh: TCP throughput through one tunnel ÷ plain veth, handshake latency.
    Mesh(mesh::Args),
    /// Operator: 50 Colonies + 1,000 Connections to Ready, resync writes, peak RSS.
    Operator(operator::Args),
}

pub fn run(target: Target) -> Result<()> {
    match target {
        Target::Agent(args) => agent::run(args),
        Target::Colony(args) => colony::run(args),
        Target::Discovery(args) => discovery::run(args),
        Target::Mesh(args) => mesh::run(args),
        Target::Operator(args) => operator::run(args),
    }
}
