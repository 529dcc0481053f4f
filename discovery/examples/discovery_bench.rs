//! Load generator behind `cargo xtask bench discovery`: starts the
//! `coral-discovery` binary, registers N colonies over gRPC, then hammers
//! LookupColony over several HTTP/2 connections and prints throughput and
//! latency percentiles.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use coral_proto::discovery::v1::discovery_service_client::DiscoveryServiceClient;
use coral_proto::discovery::v1::{LookupColonyRequest, RegisterColonyRequest};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::transport::{Channel, Endpoint};

#[derive(Parser)]
struct Args {
    /// The server binary (default: `coral-discovery` next to this example's directory).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Live colonies registered before measuring lookups.
    #[arg(long, default_value_t = 10_000)]
    colonies: usize,
    /// HTTP/2 connections used by the lookup load.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Concurrent in-flight lookups per connection.
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Concurrent registrations in flight.
    #[arg(long, default_value_t = 32)]
    register_concurrency: usize,
    /// Seconds of measured lookups (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The server's `--connection-threads`; repeat to compare settings in
    /// one run (each gets its own server). Default: the server's default.
    #[arg(long)]
    connection_threads: Vec<u16>,
}

/// The server process; killed on drop so nothing is left running.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(binary: &PathBuf, threads: Option<u16>) -> Result<(ServerProcess, String)> {
    let mut command = Command::new(binary);
    if let Some(threads) = threads {
        command.args(["--connection-threads", &threads.to_string()]);
    }
    let mut child = command
        .args(["--port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
        .args(["--log-level", "info", "--register-rate-limit", "0"])
        .args(["--ttl", "3600"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let stderr = child.stderr.take().context("stderr is piped")?;
    let server = ServerProcess(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "Discovery service listening"
                && let Some(addr) = event["addr"].as_str()
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .context("the server did not log its listening address")?;
    Ok((server, addr))
}

/// User + system CPU seconds the process has used so far (Linux /proc).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at ")".
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

fn key(index: usize) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn colony(index: usize) -> RegisterColonyRequest {
    RegisterColonyRequest {
        mesh_id: format!("bench-colony-{index}"),
        pubkey: key(index),
        endpoints: vec![format!("203.0.113.{}:41580", index % 250 + 1)],
        mesh_ipv4: "10.42.0.1".into(),
        mesh_ipv6: "fd42::1".into(),
        connect_port: 9000,
        metadata: [
            ("application".to_owned(), "bench".to_owned()),
            ("environment".to_owned(), "prod".to_owned()),
        ]
        .into(),
    }
}

/// A tonic client over one hyper HTTP/2 connection, without the request
/// buffer task a tonic `Channel` adds (the load generator shares the two
/// cores with the server, so its own overhead matters).
type LeanClient = DiscoveryServiceClient<Client<HttpConnector, tonic::body::Body>>;

fn lean_client(addr: &str) -> Result<LeanClient> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(connector);
    Ok(DiscoveryServiceClient::with_origin(
        client,
        format!("http://{addr}").parse()?,
    ))
}

async fn connect(addr: &str) -> Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?)
}

async fn register_all(addr: &str, args: &Args) -> Result<Duration> {
    let channel = connect(addr).await?;
    let started = Instant::now();
    let workers = args.register_concurrency.max(1);
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let mut client = DiscoveryServiceClient::new(channel.clone());
        let total = args.colonies;
        tasks.push(tokio::spawn(async move {
            let mut index = worker;
            while index < total {
                client.register_colony(colony(index)).await?;
                index += workers;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// One closed-loop worker: lookups back to back until `until`, latencies in µs
/// recorded only after `measure_from`.
async fn lookup_worker(
    mut client: LeanClient,
    colonies: usize,
    seed: u64,
    measure_from: Instant,
    until: Instant,
) -> Result<Vec<u32>> {
    let mut state = seed | 1;
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        // xorshift: a cheap spread of ids without a dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mesh_id = format!("bench-colony-{}", state as usize % colonies);
        let sent = Instant::now();
        if sent >= until {
            return Ok(latencies);
        }
        let found = client
            .lookup_colony(LookupColonyRequest { mesh_id })
            .await?
            .into_inner();
        if found.connect_port != 9000 {
            bail!("lookup returned a wrong record: {found:?}");
        }
        if sent >= measure_from {
            latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

async fn run(args: Args) -> Result<()> {
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .context("cannot locate the target directory")?
            .join("coral-discovery"),
    };
    let settings: Vec<Option<u16>> = if args.connection_threads.is_empty() {
        vec![None]
    } else {
        args.connection_threads.iter().copied().map(Some).collect()
    };
    let mut rates = Vec::new();
    for threads in settings {
        let label = threads.map_or("default".to_owned(), |n| n.to_string());
        println!("\n--connection-threads {label}");
        rates.push((label, measure(&binary, threads, &args).await?));
    }
    if rates.len() > 1 {
        let (first_label, first) = &rates[0];
        for (label, rate) in &rates[1..] {
            println!(
                "ratio lookups/s, --connection-threads {label} / {first_label}: {:.2}",
                rate / first
            );
        }
    }
    Ok(())
}

/// One server with one setting: registrations, then lookups. Returns lookups/s.
async fn measure(binary: &PathBuf, threads: Option<u16>, args: &Args) -> Result<f64> {
    let (server, addr) = start_server(binary, threads)?;
    let server_pid = server.0.id();
    println!("coral-discovery at {addr} ({})", binary.display());

    let took = register_all(&addr, args).await?;
    println!(
        "registrations: {} colonies in {:.2} s = {:.0} registrations/s ({} in flight, gRPC)",
        args.colonies,
        took.as_secs_f64(),
        args.colonies as f64 / took.as_secs_f64(),
        args.register_concurrency
    );

    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(lean_client(&addr)?);
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let until = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for (c, channel) in channels.iter().enumerate() {
        for s in 0..args.streams.max(1) {
            let client = channel.clone();
            let seed = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul((c * 1000 + s + 1) as u64);
            tasks.push(tokio::spawn(lookup_worker(
                client,
                args.colonies,
                seed,
                measure_from,
                until,
            )));
        }
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = cpu_seconds(server_pid);
    let own_before = cpu_seconds(std::process::id());
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let cpu_after = cpu_seconds(server_pid);
    let own_after = cpu_seconds(std::process::id());
    latencies.sort_unstable();
    let measured = args.seconds as f64;
    println!(
        "lookups: {:.0} lookups/s over {} HTTP/2 connections x {} streams ({} lookups in {measured:.0} s, {} live colonies)",
        latencies.len() as f64 / measured,
        args.connections,
        args.streams,
        latencies.len(),
        args.colonies,
    );
    println!(
        "latency: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        percentile(&latencies, 1.0),
    );
    let rate = latencies.len() as f64 / measured;
    let count = latencies.len().max(1) as f64;
    if let (Some(before), Some(after), Some(own_before), Some(own_after)) =
        (cpu_before, cpu_after, own_before, own_after)
    {
        let server = after - before;
        let client = own_after - own_before;
        println!(
            "CPU per lookup: server {:.1} µs ({:.0}% of a core), load generator {:.1} µs ({:.0}% of a core)",
            1e6 * server / count,
            100.0 * server / measured,
            1e6 * client / count,
            100.0 * client / measured,
        );
        // Both share this machine's cores; this is the rate they could
        // sustain together with every core to themselves.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        println!(
            "CPU-bound ceiling with {cores:.0} idle cores: {:.0} lookups/s (other processes on the machine lower the measured rate)",
            cores / ((server + client) / count)
        );
    }
    Ok(rate)
}

fn main() -> Result<()> {
    let args = Args::parse();
    // One thread: the load generator shares the cores with the server, and
    // a single-threaded client costs the least per request.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}
