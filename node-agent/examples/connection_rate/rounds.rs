//! One mode of one round: short connections client → server as fast as one
//! thread makes them, for a fixed time, with the mode's program attached.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use coral_node_agent::{CaptureOptions, Direction, EmptyHook, FlowCapture};

use crate::netns::NetnsPair;
use crate::processes::{AgentLauncher, Colony, Http};

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// No program.
    None,
    /// The flow program loaded by this driver (`FlowCapture`): the kernel
    /// side alone, without the agent's user space.
    FlowProgram,
    /// The flow program keying the client's connects by process, as host
    /// mode does in the agent's own namespace (`coral connect`).
    FlowProgramWithProcesses,
    /// An empty sock_ops program on the same hook: the floor.
    EmptyHook,
    /// The `coral-node-agent` binary reporting to the colony.
    Agent,
}

pub const MODES: [Mode; 5] = [
    Mode::None,
    Mode::FlowProgram,
    Mode::FlowProgramWithProcesses,
    Mode::EmptyHook,
    Mode::Agent,
];

/// What a round's connections reached and cost in `Mode::Agent`.
pub struct Reported {
    /// The round's growth of the edge's count in the colony.
    pub colony_counted: u64,
    /// Agent CPU seconds per second of traffic, per 1,000 connections/s.
    pub cpu_per_kilo_rate: f64,
    /// While the connections were made: CPU seconds per second of the
    /// agent, and of the colony (which shares this machine only because the
    /// benchmark runs on one).
    pub agent_cpu_during: f64,
    pub colony_cpu_during: f64,
}

pub struct Measured {
    /// Connections per second.
    pub rate: f64,
    pub made: u64,
    /// Flow-program modes: closes of the client's outbound flows drained.
    pub drained: Option<u64>,
    pub reported: Option<Reported>,
}

/// Everything a round needs besides its mode.
pub struct Bench<'a> {
    pub pair: &'a NetnsPair,
    pub client_cookie: u64,
    pub target: SocketAddr,
    pub duration: Duration,
    pub colony: &'a Colony,
    pub http: &'a Http,
    pub agent: &'a AgentLauncher,
    /// The rate edge as the colony names it.
    pub edge: (&'a str, &'a str, u16),
}

impl Bench<'_> {
    pub fn run(&self, mode: Mode) -> Result<Measured> {
        match mode {
            Mode::None => self.traffic(),
            Mode::EmptyHook => {
                let _hook = EmptyHook::start()?;
                self.traffic()
            }
            Mode::FlowProgram | Mode::FlowProgramWithProcesses => {
                let process_netns =
                    matches!(mode, Mode::FlowProgramWithProcesses).then_some(self.client_cookie);
                let mut capture = FlowCapture::start(CaptureOptions {
                    process_netns,
                    ..CaptureOptions::default()
                })?;
                let mut measured = self.traffic()?;
                measured.drained = Some(count_closed(
                    &mut capture,
                    self.client_cookie,
                    measured.made,
                )?);
                Ok(measured)
            }
            Mode::Agent => self.with_agent(),
        }
    }

    /// The agent from start to stop around the traffic: its CPU from the
    /// first connection until the colony has counted the round (the drain
    /// and the send included) per second of traffic.
    fn with_agent(&self) -> Result<Measured> {
        let agent = self.agent.start()?;
        let (source, destination, port) = self.edge;
        let before = self
            .colony
            .connections(self.http, source, destination, port)?;
        let cpu_before = agent.cpu_time()?;
        let colony_cpu_before = self.colony.cpu_time()?;
        let mut measured = self.traffic()?;
        let agent_cpu_during = (agent.cpu_time()? - cpu_before).as_secs_f64();
        let colony_cpu_during = (self.colony.cpu_time()? - colony_cpu_before).as_secs_f64();
        let expected = before + measured.made;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut now = before;
        while now < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            now = self
                .colony
                .connections(self.http, source, destination, port)?;
        }
        let cpu_seconds = (agent.cpu_time()? - cpu_before).as_secs_f64();
        let traffic_seconds = measured.made as f64 / measured.rate;
        measured.reported = Some(Reported {
            colony_counted: now.saturating_sub(before),
            cpu_per_kilo_rate: cpu_seconds / traffic_seconds / (measured.rate / 1_000.0),
            agent_cpu_during: agent_cpu_during / traffic_seconds,
            colony_cpu_during: colony_cpu_during / traffic_seconds,
        });
        agent.stop()?;
        Ok(measured)
    }

    pub fn traffic(&self) -> Result<Measured> {
        let (target, duration) = (self.target, self.duration);
        let (made, elapsed) = self
            .pair
            .client
            .spawn(move || {
                let started = Instant::now();
                let mut made = 0u64;
                let mut eof = Vec::new();
                while started.elapsed() < duration {
                    let mut stream = TcpStream::connect(target)?;
                    stream.read_to_end(&mut eof)?;
                    made += 1;
                }
                Ok((made, started.elapsed()))
            })
            .join()
            .expect("client panicked")?;
        ensure!(made > 0, "no connection completed in {duration:?}");
        Ok(Measured {
            rate: made as f64 / elapsed.as_secs_f64(),
            made,
            drained: None,
            reported: None,
        })
    }
}

/// Drains until the client's outbound closes reach `made` (or 10 s pass).
fn count_closed(capture: &mut FlowCapture, client_cookie: u64, made: u64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = 0;
    loop {
        let report = capture.drain()?;
        ensure!(report.dropped_map_full_total == 0, "flow map overflowed");
        closed += report
            .flows
            .iter()
            .filter(|f| f.netns_cookie == client_cookie && f.direction == Direction::Outbound)
            .map(|f| f.closed)
            .sum::<u64>();
        if closed >= made || Instant::now() > deadline {
            return Ok(closed);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
