//! Kernel time the program spends per connection, from the kernel's own
//! per-program statistics (`BPF_ENABLE_STATS`): a figure machine noise
//! barely moves, beside the rate ratios it moves a lot. Statistics cost a
//! clock read per program run, so they are only on in these runs, never in
//! the rate rounds.

use std::any::Any;
use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{Context, Result};
use aya::programs::loaded_programs;
use aya::sys::{Stats, enable_stats};
use coral_node_agent::{CaptureOptions, EmptyHook, FlowCapture};
use coral_node_agent_common::{EMPTY_PROGRAM_NAME, PROGRAM_NAME};

use crate::rounds::Bench;

/// The programs timed, each as it runs in one of the agent's setups.
#[derive(Clone, Copy, Debug)]
pub enum Timed {
    /// An empty program on the hook: the floor.
    Empty,
    /// The flow program as Kubernetes mode runs it, and as host mode runs
    /// it outside the agent's own namespace.
    Flows,
    /// The flow program told that the client is observed, as the agent
    /// tells it (a pod IP, a named workload): the server side is skipped.
    FlowsClientObserved,
    /// The flow program keying the client's connects by process, as host
    /// mode does in the agent's own namespace (`coral connect`).
    FlowsWithProcesses,
}

pub const TIMED: [Timed; 4] = [
    Timed::Empty,
    Timed::Flows,
    Timed::FlowsClientObserved,
    Timed::FlowsWithProcesses,
];

/// One timed run.
pub struct ProgramTime {
    pub nanos_per_connection: f64,
    pub runs_per_connection: f64,
}

/// Loads `timed`, makes connections for the bench's duration and divides
/// the program's run time and run count by the connections made.
pub fn measure(bench: &Bench, timed: Timed) -> Result<ProgramTime> {
    let _stats: OwnedFd = enable_stats(Stats::RunTime).context("BPF_ENABLE_STATS")?;
    // Held (attached) while timed.
    let (name, _loaded): (&str, Box<dyn Any>) = match timed {
        Timed::Empty => (EMPTY_PROGRAM_NAME, Box::new(EmptyHook::start()?)),
        Timed::Flows => (
            PROGRAM_NAME,
            Box::new(FlowCapture::start(CaptureOptions::default())?),
        ),
        Timed::FlowsClientObserved => (PROGRAM_NAME, {
            let mut capture = FlowCapture::start(CaptureOptions::default())?;
            capture.set_observed_clients([bench.pair.client_addr])?;
            Box::new(capture)
        }),
        Timed::FlowsWithProcesses => (
            PROGRAM_NAME,
            Box::new(FlowCapture::start(CaptureOptions {
                process_netns: Some(bench.client_cookie),
                ..CaptureOptions::default()
            })?),
        ),
    };
    let before = counters(name)?;
    let made = bench.traffic()?.made;
    let after = counters(name)?;
    let connections = made as f64;
    Ok(ProgramTime {
        nanos_per_connection: (after.0 - before.0).as_nanos() as f64 / connections,
        runs_per_connection: (after.1 - before.1) as f64 / connections,
    })
}

/// Run time and run count of the newest loaded program called `name` (the
/// one just loaded, should another tool's copy be loaded too).
fn counters(name: &str) -> Result<(Duration, u64)> {
    let mut newest = None;
    for info in loaded_programs() {
        let info = info?;
        if info.name_as_str() == Some(name)
            && newest
                .as_ref()
                .is_none_or(|n: &aya::programs::ProgramInfo| n.id() < info.id())
        {
            newest = Some(info);
        }
    }
    let info = newest.with_context(|| format!("program {name} is not loaded"))?;
    Ok((info.run_time(), info.run_count()))
}

/// Each program's median over the alternating runs.
pub fn print(results: &mut [(Timed, Vec<ProgramTime>)], seconds: Duration) {
    let runs = results.first().map_or(0, |(_, r)| r.len());
    println!(
        "program time per connection (kernel BPF statistics; {runs} alternating runs of {} s \
         per program; both ends of each connection):",
        seconds.as_secs()
    );
    for (timed, measured) in results.iter_mut() {
        let mut nanos: Vec<f64> = measured.iter().map(|m| m.nanos_per_connection).collect();
        let runs_each = measured.first().map_or(0.0, |m| m.runs_per_connection);
        let what = match timed {
            Timed::Empty => "empty sock_ops (floor)",
            Timed::Flows => "flow program counting both ends",
            Timed::FlowsClientObserved => {
                "flow program, client observed (as the agent runs it here)"
            }
            Timed::FlowsWithProcesses => "flow program keying connects by process (host mode)",
        };
        println!(
            "  {what}: {} over {runs_each:.1} runs",
            crate::summary(&mut nanos, 1.0, 0, " ns")
        );
    }
}
