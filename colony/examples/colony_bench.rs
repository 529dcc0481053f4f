//! Colony benchmark (run by `cargo xtask bench colony`, release build),
//! for each backend (a DuckDB file in a temp dir; a private
//! `clickhouse-server` started here, as the store's tests do):
//! 1. ingest: `hours` of minute rollups for `edges` edges between
//!    `workloads` workloads, one batch per minute, written through the
//!    store; prints rows/s;
//! 2. GetTopology through the service code (without HTTP), with the last
//!    minutes held in memory as the colony runs: the default 5-minute
//!    window `queries` times (p50/p99 in the summary), then a 1-hour
//!    window (read from the store) a tenth as often.
//!
//! Then both side by side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use coral_colony::rollup::minute_of;
use coral_colony::service::{Colony, ColonySettings, unix_now};
use coral_colony::store::clickhouse::local_server::LocalServer;
use coral_colony::store::duckdb::DuckDbStore;
use coral_colony::store::recent::{DEFAULT_KEEP_SECONDS, RecentMinutes};
use coral_colony::store::{BatchId, EdgeKey, EdgeMinute, EdgeStats, Store, WorkloadRef};
use coral_mesh::MeshNetwork;
use coral_proto::colony::v1::GetTopologyRequest;
use coral_proto::colony::v1::colony_service_server::ColonyService;

// The allocator the colony binary uses (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000)]
    workloads: u32,
    #[arg(long, default_value_t = 20_000)]
    edges: u32,
    #[arg(long, default_value_t = 24)]
    hours: u32,
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Backends to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "duckdb,clickhouse")]
    backends: Vec<Backend>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Duckdb,
    Clickhouse,
}

/// What one backend measured.
struct Figures {
    backend: &'static str,
    rows_per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn workload(index: u32) -> WorkloadRef {
    WorkloadRef {
        namespace: format!("ns-{}", index % 20),
        name: format!("workload-{index}"),
        kind: "Deployment".into(),
    }
}

/// Edge `i` goes from workload i % n to a pseudo-random other workload.
fn edge_keys(workloads: u32, edges: u32) -> Vec<EdgeKey> {
    (0..edges)
        .map(|i| {
            let source = i % workloads;
            let hop = 1 + (i / workloads).wrapping_mul(7919) % (workloads - 1);
            EdgeKey {
                source: workload(source),
                destination: workload((source + hop) % workloads),
                port: 8000 + i % 10,
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let mut figures = Vec::new();
    for backend in &args.backends {
        match backend {
            Backend::Duckdb => {
                let dir = tempfile::tempdir().context("temp dir")?;
                let store = Arc::new(DuckDbStore::open(dir.path())?);
                let file = store.path().to_owned();
                figures.push(measure(&runtime, &args, store, || {
                    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                    format!("file {:.0} MB", size as f64 / 1e6)
                })?);
            }
            Backend::Clickhouse => {
                let server = LocalServer::start()?;
                let store = Arc::new(server.open_store("bench")?);
                let version = store.server_version().to_owned();
                figures.push(measure(&runtime, &args, store, || {
                    format!("server {version} at {}", server.url())
                })?);
            }
        }
    }
    println!("\nbackend       ingest rows/s   GetTopology p50     p99");
    for f in &figures {
        println!(
            "{:<12} {:>14.0} {:>14.1} ms {:>7.1} ms",
            f.backend,
            f.rows_per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Ingest through `store`, then time GetTopology; the store is dropped at
/// the end (before a ClickHouse server it uses is stopped).
fn measure<S: Store>(
    runtime: &tokio::runtime::Runtime,
    args: &Args,
    store: Arc<S>,
    describe: impl Fn() -> String,
) -> Result<Figures> {
    let backend = store.backend();
    let keys = edge_keys(args.workloads.max(2), args.edges);
    let minutes = i64::from(args.hours) * 60;
    let last_minute = minute_of(unix_now());
    let first_minute = last_minute - (minutes - 1) * 60;

    // The store is synchronous (the service calls it on blocking threads):
    // ingest from this plain thread, outside the runtime.
    let started = Instant::now();
    let mut rows_written = 0u64;
    for (sequence, minute) in (first_minute..=last_minute).step_by(60).enumerate() {
        let rows: Vec<EdgeMinute> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| EdgeMinute {
                minute,
                key: key.clone(),
                stats: EdgeStats {
                    connections: 1 + (i as u64 % 5),
                    failed: u64::from(i % 97 == 0),
                    resets: 0,
                    bytes_sent: 1_000 + i as u64,
                    bytes_received: 10_000 + i as u64,
                    rtt_us_sum: 300,
                    rtt_samples: 1,
                },
            })
            .collect();
        let batch = BatchId {
            agent_id: "bench".into(),
            sequence: sequence as u64 + 1,
            received_at: minute,
        };
        store.apply_batch(&batch, &rows)?;
        rows_written += rows.len() as u64;
    }
    let ingest = started.elapsed();
    let rows_per_second = rows_written as f64 / ingest.as_secs_f64();
    println!(
        "{backend}: ingest: {rows_written} rollup rows ({} edges x {minutes} min) in {:.1} s = {rows_per_second:.0} rows/s, {}",
        args.edges,
        ingest.as_secs_f64(),
        describe()
    );

    // As the colony runs it: the last minutes in memory in front of the
    // store (loading them is part of every start, so it is timed too).
    let started = Instant::now();
    let store = Arc::new(RecentMinutes::new(store)?);
    println!(
        "{backend}: start: loaded the last {} minutes into memory in {:.0} ms",
        DEFAULT_KEEP_SECONDS / 60,
        started.elapsed().as_secs_f64() * 1e3
    );
    let colony = Colony::new(
        store,
        ColonySettings {
            colony_id: "bench".into(),
            application: "bench".into(),
            environment: "bench".into(),
            version: "bench".into(),
            enrollment_token: "bench".into(),
            mesh: MeshNetwork::default(),
            connect_port: 9000,
            wireguard_endpoint: String::new(),
            retention: coral_colony::retention::Retention {
                minutes: Duration::from_secs(7 * 86_400),
                hours: Duration::from_secs(30 * 86_400),
                events: Duration::from_secs(30 * 86_400),
            },
        },
    );
    // The default 5-minute window (from memory), then one hour (from the
    // store) with fewer calls.
    let (p50, p99) = time_topology(runtime, &colony, backend, 300, args.queries)?;
    time_topology(runtime, &colony, backend, 3_600, args.queries / 10)?;
    Ok(Figures {
        backend,
        rows_per_second,
        p50,
        p99,
    })
}

/// Times `queries` GetTopology calls over the last `window` seconds (through
/// the service code, without HTTP); prints and returns p50 and p99.
fn time_topology(
    runtime: &tokio::runtime::Runtime,
    colony: &Colony,
    backend: &str,
    window: i64,
    queries: usize,
) -> Result<(Duration, Duration)> {
    let request = || {
        tonic::Request::new(GetTopologyRequest {
            window_seconds: window,
            namespace: String::new(),
            include_external: true,
        })
    };
    let (first, mut latencies) = runtime.block_on(async {
        let first = colony.get_topology(request()).await?.into_inner();
        let mut latencies = Vec::with_capacity(queries);
        for _ in 0..queries.max(1) {
            let started = Instant::now();
            let response = colony.get_topology(request()).await?;
            latencies.push(started.elapsed());
            std::hint::black_box(response);
        }
        anyhow::Ok((first, latencies))
    })?;
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    println!(
        "{backend}: GetTopology ({} min window, {} edges, {} nodes): p50 {:.1} ms, p99 {:.1} ms over {} queries",
        window / 60,
        first.edges.len(),
        first.nodes.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.len()
    );
    Ok((p50, p99))
}
