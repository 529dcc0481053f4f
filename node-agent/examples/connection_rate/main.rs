//! Overhead benchmark driver behind `cargo xtask bench agent` (needs root):
//! short TCP connections between two network namespaces as fast as one client
//! thread can make them, in alternating rounds with no program, the flow
//! program alone, the flow program keying connects by process (host mode
//! in its own namespace), an empty program on the same hook, and the
//! `coral-node-agent` binary reporting to a `coral-colony`, so machine noise
//! cancels. Then the kernel's own count of each program's time per
//! connection. Then, with the agent and colony binaries: the time from a
//! connection to its edge in `GetTopology`, and the agent's peak RSS with
//! 10,000 live flows. Prints each figure with its target.
//!
//! Usage: connection_rate [ROUNDS] [SECONDS_PER_ROUND]
//! (`coral-colony` and `coral-node-agent` are taken from the release
//! directory this driver was built into.)

// Shared with the kernel tests; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/support/netns.rs"]
mod netns;

mod latency;
mod live_flows;
mod processes;
mod program_time;
mod rounds;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use live_flows::{CLIENT_WORKLOAD, Grid, LiveFlows};
use netns::NetnsPair;
use processes::{AgentLauncher, Colony, Http, TOKEN, release_binary};
use rounds::{Bench, Mode};
use server::Server;

/// Addresses no test uses: the agent attributes by address and sees every
/// namespace on the machine.
const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 76, 0, 1);
const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 76, 0, 2);
const SERVER_PORT: u16 = 7000;
const SERVER_WORKLOAD: &str = "bench/server";
/// The agent's default, passed explicitly so the figure states what it used.
const DRAIN_INTERVAL: Duration = Duration::from_secs(4);
const LATENCY_TRIALS: usize = 8;
/// Runs per program of the kernel-time figure (it varies little).
const PROGRAM_TIME_RUNS: usize = 3;
/// Several drain intervals of the live flows, so the peak covers drains
/// that each hold all of them.
const LIVE_FLOWS_FOR: Duration = Duration::from_secs(20);

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let colony_binary = release_binary("coral-colony")?;
    let agent_binary = release_binary("coral-node-agent")?;
    let dir = tempfile::tempdir()?;

    let pair = NetnsPair::create_with(CLIENT_ADDR.into(), SERVER_ADDR.into(), 24)?;
    let client_cookie = pair.client.cookie()?;
    let target = SocketAddr::new(pair.server_addr, SERVER_PORT);
    let server = Server::start(&pair.server, target, &pair.client, target)?;
    let grid = Grid::start(&pair)?;
    let http = Http::new()?;
    let colony = Colony::start(&colony_binary, &dir.path().join("colony"));
    let agent = AgentLauncher {
        binary: agent_binary,
        args: agent_args(&colony, &grid, &dir.path().join("agent")),
    };
    let bench = Bench {
        pair: &pair,
        client_cookie,
        target,
        duration: Duration::from_secs(seconds),
        colony: &colony,
        http: &http,
        agent: &agent,
        edge: (CLIENT_WORKLOAD, SERVER_WORKLOAD, SERVER_PORT),
    };

    let mut figures = Figures::default();
    for round in 1..=rounds {
        // Each round starts with another mode, so no mode is always first
        // (or last) when the machine's load drifts.
        let mut order = rounds::MODES;
        order.rotate_left(round % rounds::MODES.len());
        let mut measured = Vec::new();
        for mode in order {
            // The previous mode's last sockets finish closing first: their
            // close must not reach the next mode's program.
            std::thread::sleep(Duration::from_millis(200));
            let result = bench.run(mode)?;
            eprintln!(
                "round {round} {mode:?}: {:.0} conn/s ({} made)",
                result.rate, result.made
            );
            measured.push((mode, result));
        }
        let none = measured
            .iter()
            .find(|(mode, _)| matches!(mode, Mode::None))
            .map_or(f64::NAN, |(_, result)| result.rate);
        for (mode, result) in &measured {
            figures.add(*mode, result, none);
        }
    }
    let mut program_times: Vec<_> = program_time::TIMED
        .iter()
        .map(|timed| (*timed, Vec::new()))
        .collect();
    for _ in 0..PROGRAM_TIME_RUNS {
        for (timed, measured) in &mut program_times {
            std::thread::sleep(Duration::from_millis(200));
            measured.push(program_time::measure(&bench, *timed)?);
        }
    }
    // After every agent round has stopped: late duplicates would show here.
    figures.colony_total =
        colony.connections(&http, CLIENT_WORKLOAD, SERVER_WORKLOAD, SERVER_PORT)?;

    let running = agent.start()?;
    let mut latency =
        latency::time_to_topology(&pair, &grid, &colony, &http, DRAIN_INTERVAL, LATENCY_TRIALS)?;
    let live = live_flows::measure(
        &pair,
        &grid,
        &colony,
        &http,
        &running,
        LIVE_FLOWS_FOR,
        latency.len() as u64,
    )?;
    running.stop()?;
    grid.stop()?;
    server.stop()?;
    drop(colony);

    println!("rounds: {rounds} × {seconds} s per mode, one client thread, two netns over veth");
    figures.print();
    program_time::print(&mut program_times, Duration::from_secs(seconds));
    print_live_flows(&live);
    latency.sort();
    println!(
        "time from a connection to GetTopology (agent --drain-interval {} s, its default; \
         {} trials across the interval): median {:.2} s, max {:.2} s (target ≤ 5 s)",
        DRAIN_INTERVAL.as_secs(),
        latency.len(),
        latency[latency.len() / 2].as_secs_f64(),
        latency[latency.len() - 1].as_secs_f64(),
    );
    Ok(())
}

fn agent_args(colony: &Colony, grid: &Grid, state_dir: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--mode".into(),
        "host".into(),
        "--workload".into(),
        format!("{CLIENT_WORKLOAD}={}", IpAddr::from(CLIENT_ADDR)),
        "--workload".into(),
        format!("{SERVER_WORKLOAD}={}", IpAddr::from(SERVER_ADDR)),
        "--colony-endpoint".into(),
        format!("http://{}", colony.addr),
        "--enrollment-token".into(),
        TOKEN.into(),
        "--agent-id".into(),
        "agent-bench".into(),
        "--drain-interval".into(),
        DRAIN_INTERVAL.as_secs().to_string(),
        "--state-dir".into(),
        state_dir.display().to_string(),
    ];
    args.extend(grid.workload_args());
    args
}

/// What the rounds measured.
#[derive(Default)]
struct Figures {
    agent_ratio: Vec<f64>,
    program_ratio: Vec<f64>,
    process_program_ratio: Vec<f64>,
    empty_ratio: Vec<f64>,
    /// Flow-program rounds: made, and closes drained.
    program_made: u64,
    program_drained: u64,
    /// Agent rounds: made, counted by the colony, rounds where both agree.
    agent_made: u64,
    colony_counted: u64,
    agent_rounds: usize,
    equal_rounds: usize,
    /// The edge's count in the colony after the last agent round.
    colony_total: u64,
    cpu_per_kilo_rate: Vec<f64>,
    agent_cpu_during: Vec<f64>,
    colony_cpu_during: Vec<f64>,
}

impl Figures {
    /// `none`: this round's rate without a program.
    fn add(&mut self, mode: Mode, measured: &rounds::Measured, none: f64) {
        let ratio = measured.rate / none;
        match mode {
            Mode::None => {}
            Mode::FlowProgram | Mode::FlowProgramWithProcesses => {
                if matches!(mode, Mode::FlowProgram) {
                    self.program_ratio.push(ratio);
                } else {
                    self.process_program_ratio.push(ratio);
                }
                self.program_made += measured.made;
                self.program_drained += measured.drained.unwrap_or(0);
            }
            Mode::EmptyHook => self.empty_ratio.push(ratio),
            Mode::Agent => {
                self.agent_ratio.push(ratio);
                self.agent_made += measured.made;
                self.agent_rounds += 1;
                if let Some(reported) = &measured.reported {
                    self.colony_counted += reported.colony_counted;
                    self.equal_rounds += usize::from(reported.colony_counted == measured.made);
                    self.cpu_per_kilo_rate.push(reported.cpu_per_kilo_rate);
                    self.agent_cpu_during.push(reported.agent_cpu_during);
                    self.colony_cpu_during.push(reported.colony_cpu_during);
                }
            }
        }
    }

    fn print(&mut self) {
        println!(
            "connection-rate ratio agent ÷ none (coral-node-agent, host mode: the client is a \
             named workload, so the server side is skipped; the traffic is outside the agent's \
             namespace, so not keyed by process): {} (target ≥ 0.97)",
            summary(&mut self.agent_ratio, 1.0, 3, "")
        );
        println!(
            "connection-rate ratio empty sock_ops ÷ none (floor): {}",
            summary(&mut self.empty_ratio, 1.0, 3, "")
        );
        println!(
            "connection-rate ratio flow program alone ÷ none (loaded by this driver): {}",
            summary(&mut self.program_ratio, 1.0, 3, "")
        );
        println!(
            "connection-rate ratio flow program keying connects by process ÷ none (host mode \
             in its own namespace, as for `coral connect`): {}",
            summary(&mut self.process_program_ratio, 1.0, 3, "")
        );
        println!(
            "connections counted by the flow program vs made: {} / {}{}",
            grouped(self.program_drained),
            grouped(self.program_made),
            equal(self.program_drained, self.program_made)
        );
        println!(
            "connections counted by the colony vs made: {} / {}{}; {} of {} rounds equal; \
             {} in GetTopology after the last round (target: equal)",
            grouped(self.colony_counted),
            grouped(self.agent_made),
            equal(self.colony_counted, self.agent_made),
            self.equal_rounds,
            self.agent_rounds,
            grouped(self.colony_total),
        );
        println!(
            "agent CPU per 1,000 conn/s (all its threads, from a round's first connection \
             until the colony counted it, per second of traffic): {} of a core",
            summary(&mut self.cpu_per_kilo_rate, 100.0, 3, " %")
        );
        println!(
            "CPU while the agent rounds' connections were made: agent {}, colony {} of a core \
             (the colony shares these 2 cores only in this benchmark)",
            summary(&mut self.agent_cpu_during, 100.0, 3, " %"),
            summary(&mut self.colony_cpu_during, 100.0, 3, " %")
        );
    }
}

fn print_live_flows(live: &LiveFlows) {
    const MIB: f64 = 1024.0 * 1024.0;
    println!(
        "agent peak RSS (VmHWM) with {} live flows: {:.1} MiB (target ≤ 40 MiB); {:.1} MiB \
         before them; {} passes over all flows in {:.0} s; the colony holds {} of the edges, \
         {} / {} connections{}; flow-map overflows: {}",
        grouped(live.flows as u64),
        live.peak_rss as f64 / MIB,
        live.rss_before as f64 / MIB,
        live.passes,
        live.seconds,
        grouped(live.colony_edges as u64),
        grouped(live.colony_counted),
        grouped(live.made),
        equal(live.colony_counted, live.made),
        live.overflows,
    );
}

fn equal(counted: u64, made: u64) -> &'static str {
    if counted == made {
        " (equal)"
    } else {
        " (MISMATCH)"
    }
}

/// 1234567 as "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "median M (range a–b)" of `values × scale` with `decimals` decimals,
/// each followed by `unit`.
fn summary(values: &mut [f64], scale: f64, decimals: usize, unit: &str) -> String {
    if values.is_empty() {
        return "no rounds".into();
    }
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2] * scale;
    format!(
        "median {median:.decimals$}{unit} (range {:.decimals$}{unit}–{:.decimals$}{unit})",
        values[0] * scale,
        values[values.len() - 1] * scale
    )
}
