//! One tier of the demo app, run in its pod's network namespace. It serves
//! short request/response connections on `--listen`; with `--upstream` each
//! request it serves makes one connection to the next tier first (api →
//! database); with `--call` it is also a client of its own, making
//! connections to another tier at a steady rate (frontend → api).
//!
//! Every connection is a real TCP connection: one request line, one
//! response, close, like HTTP/1.0. On stop (SIGTERM/SIGINT) or after
//! `--count` calls it prints one JSON line with what it did.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(about = "One tier of Coral's demo app")]
struct Args {
    /// The tier's name, put in every response.
    #[arg(long)]
    name: String,
    /// Where to serve requests.
    #[arg(long)]
    listen: SocketAddr,
    /// Make one connection here for every request served.
    #[arg(long)]
    upstream: Option<SocketAddr>,
    /// Call this address on a timer, as a client.
    #[arg(long)]
    call: Option<SocketAddr>,
    /// Milliseconds between calls.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Stop calling after this many successful calls (0: never).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

#[derive(Default)]
struct Counters {
    served: AtomicU64,
    upstream_ok: AtomicU64,
    upstream_failed: AtomicU64,
    calls_ok: AtomicU64,
    calls_failed: AtomicU64,
}

impl Counters {
    fn summary(&self, name: &str) -> String {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        serde_json::json!({
            "name": name,
            "served": count(&self.served),
            "upstreamOk": count(&self.upstream_ok),
            "upstreamFailed": count(&self.upstream_failed),
            "callsOk": count(&self.calls_ok),
            "callsFailed": count(&self.calls_failed),
        })
        .to_string()
    }
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    let args = Args::parse();
    let listener = match TcpListener::bind(args.listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "Error: cannot listen on {}: {error}; pick a free port",
                args.listen
            );
            std::process::exit(1);
        }
    };
    let counters = Arc::new(Counters::default());
    stop_on_signal(args.name.clone(), counters.clone());
    eprintln!("{} listening on {}", args.name, args.listen);

    if let Some(target) = args.call {
        let counters = counters.clone();
        let (name, interval, count) = (
            args.name.clone(),
            Duration::from_millis(args.interval_ms),
            args.count,
        );
        std::thread::spawn(move || call_loop(&name, target, interval, count, &counters));
    }

    let name: Arc<str> = args.name.into();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (counters, name, upstream) = (counters.clone(), name.clone(), args.upstream);
        std::thread::spawn(move || {
            if serve(stream, &name, upstream, &counters).is_ok() {
                counters.served.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

fn serve(
    stream: TcpStream,
    name: &str,
    upstream: Option<SocketAddr>,
    counters: &Counters,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let answer = match upstream {
        None => "ok".to_owned(),
        Some(upstream) => match request_once(upstream, name) {
            Ok(_) => {
                counters.upstream_ok.fetch_add(1, Ordering::Relaxed);
                "ok".to_owned()
            }
            Err(error) => {
                counters.upstream_failed.fetch_add(1, Ordering::Relaxed);
                format!("upstream {upstream} failed: {error}")
            }
        },
    };
    let mut stream = reader.into_inner();
    writeln!(stream, "{name}: {answer}")?;
    // A response body, so byte counts are more than a line.
    stream.write_all(&[b'.'; 2048])?;
    Ok(())
}

/// One connection: a request line, the whole response, close.
fn request_once(target: SocketAddr, from: &str) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    writeln!(stream, "GET / from {from}")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if response.is_empty() {
        return Err(std::io::Error::other("empty response"));
    }
    Ok(response.len())
}

fn call_loop(name: &str, target: SocketAddr, interval: Duration, count: u64, counters: &Counters) {
    loop {
        if count > 0 && counters.calls_ok.load(Ordering::Relaxed) >= count {
            println!("{}", counters.summary(name));
            return;
        }
        match request_once(target, name) {
            Ok(_) => counters.calls_ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => counters.calls_failed.fetch_add(1, Ordering::Relaxed),
        };
        std::thread::sleep(interval);
    }
}

/// Print the summary and exit on SIGTERM or SIGINT. Called before any
/// other thread starts, so every thread inherits the blocked mask and only
/// the waiting thread takes the signals.
fn stop_on_signal(name: String, counters: Arc<Counters>) {
    // SAFETY: plain signal-set calls on a zeroed set we own.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal = 0;
        // SAFETY: `set` is a valid set, blocked in this thread.
        unsafe { libc::sigwait(&set, &mut signal) };
        println!("{}", counters.summary(&name));
        std::process::exit(0);
    });
}
