//! Lookups from tonic clients in this process (`--tonic`), as agents send
//! them. On a 2-core machine this client needs about as much CPU per lookup
//! as the server, so its rate says as much about the client as about the
//! server; h2load is the headline figure and this one a comparison.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use coral_proto::discovery::v1::LookupColonyRequest;
use coral_proto::discovery::v1::discovery_service_client::DiscoveryServiceClient;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::register::{CONNECT_PORT, mesh_id};
use crate::server::{ServerProcess, cpu_seconds};
use crate::stats::Measurement;

/// A tonic client over one hyper HTTP/2 connection, without the request
/// buffer task a tonic `Channel` adds (the client's own cost matters here).
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
        let mesh_id = mesh_id(state as usize % colonies.max(1));
        let sent = Instant::now();
        if sent >= until {
            return Ok(latencies);
        }
        let found = client
            .lookup_colony(LookupColonyRequest { mesh_id })
            .await?
            .into_inner();
        if found.connect_port != CONNECT_PORT {
            bail!("lookup returned a wrong record: {found:?}");
        }
        if sent >= measure_from {
            latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        }
    }
}

/// `connections` HTTP/2 connections with `streams` closed-loop workers
/// each, one second of warm-up, then `seconds` measured.
pub async fn measure(
    server: &ServerProcess,
    colonies: usize,
    connections: usize,
    streams: usize,
    seconds: u64,
) -> Result<Measurement> {
    let mut clients = Vec::new();
    for _ in 0..connections.max(1) {
        clients.push(lean_client(&server.addr)?);
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let until = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        for s in 0..streams.max(1) {
            let seed = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul((c * 1000 + s + 1) as u64);
            tasks.push(tokio::spawn(lookup_worker(
                client.clone(),
                colonies,
                seed,
                measure_from,
                until,
            )));
        }
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let server_before = server.cpu_seconds();
    let own_before = cpu_seconds(std::process::id());
    let cpu_started = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let cpu_wall = cpu_started.elapsed().as_secs_f64();
    let delta = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let mut measurement = Measurement::new(
        format!(
            "gRPC, tonic in-process, {} connections x {} streams",
            connections.max(1),
            streams.max(1)
        ),
        format!("random ids of all {colonies}"),
        seconds as f64,
        latencies,
    );
    measurement.server_cpu = delta(server_before, server.cpu_seconds());
    measurement.client_cpu = delta(own_before, cpu_seconds(std::process::id()));
    measurement.cpu_wall = cpu_wall;
    Ok(measurement)
}
