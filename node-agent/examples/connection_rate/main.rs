//! Overhead benchmark driver behind `cargo xtask bench agent` (needs root):
//! short TCP connections between two network namespaces as fast as one client
//! thread can make them, in alternating rounds with no program, the flow
//! program, and an empty program on the same hook, so machine noise cancels.
//! Prints medians and ranges of the rate ratios and the agent's counting.
//!
//! Usage: connection_rate [ROUNDS] [SECONDS_PER_ROUND]

// Shared with the kernel tests; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/support/netns.rs"]
mod netns;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use coral_node_agent::{CaptureOptions, Direction, EmptyHook, FlowCapture};
use netns::NetnsPair;

#[derive(Clone, Copy, Debug)]
enum Mode {
    None,
    Agent,
    EmptyHook,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let pair = NetnsPair::create(false)?;
    let client_cookie = pair.client.cookie()?;
    let server = start_server(&pair)?;

    let mut agent_ratio = Vec::new();
    let mut empty_ratio = Vec::new();
    let (mut made_total, mut counted_total) = (0u64, 0u64);
    for round in 1..=rounds {
        let mut rate = |mode| -> Result<f64> {
            let (rate, made, counted) = run_round(&pair, mode, seconds, client_cookie)?;
            if let Some(counted) = counted {
                made_total += made;
                counted_total += counted;
            }
            eprintln!("round {round} {mode:?}: {rate:.0} conn/s ({made} made)");
            Ok(rate)
        };
        let none = rate(Mode::None)?;
        let agent = rate(Mode::Agent)?;
        let empty = rate(Mode::EmptyHook)?;
        agent_ratio.push(agent / none);
        empty_ratio.push(empty / none);
    }
    server.stop()?;

    println!("rounds: {rounds} × {seconds} s per mode, one client thread, two netns over veth");
    println!(
        "connection-rate ratio agent ÷ none: {}",
        summary(&mut agent_ratio)
    );
    println!(
        "connection-rate ratio empty sock_ops ÷ none (floor): {}",
        summary(&mut empty_ratio)
    );
    println!(
        "connections counted by the agent vs made: {counted_total} / {made_total}{}",
        if counted_total == made_total {
            " (equal)"
        } else {
            " (MISMATCH)"
        }
    );
    Ok(())
}

fn summary(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    format!(
        "median {median:.3} (range {:.3}–{:.3})",
        values[0],
        values[values.len() - 1]
    )
}

/// Rate (conn/s), connections made, and connections the agent counted.
fn run_round(
    pair: &NetnsPair,
    mode: Mode,
    seconds: u64,
    client_cookie: u64,
) -> Result<(f64, u64, Option<u64>)> {
    let mut capture = match mode {
        Mode::Agent => Some(FlowCapture::start(CaptureOptions::default())?),
        _ => None,
    };
    let _empty = match mode {
        Mode::EmptyHook => Some(EmptyHook::start()?),
        _ => None,
    };
    let target = SocketAddr::new(pair.server_addr, SERVER_PORT);
    let duration = Duration::from_secs(seconds);
    let (made, elapsed) = pair
        .client
        .spawn(move || {
            let started = Instant::now();
            let mut made = 0u64;
            let mut eof = Vec::new();
            while started.elapsed() < duration {
                // The server closes first, so TIME_WAIT stays on its side and
                // the client's ephemeral ports are not exhausted.
                let mut stream = TcpStream::connect(target)?;
                stream.read_to_end(&mut eof)?;
                made += 1;
            }
            Ok((made, started.elapsed()))
        })
        .join()
        .expect("client panicked")?;
    let rate = made as f64 / elapsed.as_secs_f64();
    let counted = match capture.as_mut() {
        None => None,
        Some(capture) => Some(count_closed(capture, client_cookie, made)?),
    };
    Ok((rate, made, counted))
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

const SERVER_PORT: u16 = 7000;

struct Server {
    stop: Arc<AtomicBool>,
    wake: SocketAddr,
    pair_client: netns::Netns,
    thread: std::thread::JoinHandle<Result<()>>,
}

/// Accepts and closes at once, until stopped.
fn start_server(pair: &NetnsPair) -> Result<Server> {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = SocketAddr::new(pair.server_addr, SERVER_PORT);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stopping = stop.clone();
    let thread = pair.server.spawn(move || {
        let listener = TcpListener::bind(addr)?;
        ready_tx.send(())?;
        while !stopping.load(Ordering::Relaxed) {
            drop(listener.accept()?);
        }
        Ok(())
    });
    ready_rx.recv().context("server did not start")?;
    Ok(Server {
        stop,
        wake: addr,
        pair_client: netns::Netns {
            name: pair.client.name.clone(),
        },
        thread,
    })
}

impl Server {
    fn stop(self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let wake = self.wake;
        // One more connection wakes the blocked accept.
        self.pair_client
            .spawn(move || {
                let _wake = TcpStream::connect(wake);
                Ok(())
            })
            .join()
            .expect("client panicked")?;
        self.thread.join().expect("server panicked")
    }
}
