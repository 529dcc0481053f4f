//! The colonies the benchmark registers (over gRPC, as colonies do) before
//! lookups are measured, and the registrations/s figure.

use std::time::{Duration, Instant};

use anyhow::Result;
use coral_proto::discovery::v1::RegisterColonyRequest;
use coral_proto::discovery::v1::discovery_service_client::DiscoveryServiceClient;
use tonic::transport::Endpoint;

/// The mesh id of colony `index`; lookups ask for these.
pub fn mesh_id(index: usize) -> String {
    format!("bench-colony-{index}")
}

/// The connect port every registered colony has; lookups check it.
pub const CONNECT_PORT: u32 = 9000;

fn key(index: usize) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&(index as u64).to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn colony(index: usize) -> RegisterColonyRequest {
    RegisterColonyRequest {
        mesh_id: mesh_id(index),
        pubkey: key(index),
        endpoints: vec![format!("203.0.113.{}:41580", index % 250 + 1)],
        mesh_ipv4: "10.42.0.1".into(),
        mesh_ipv6: "fd42::1".into(),
        connect_port: CONNECT_PORT,
        metadata: [
            ("application".to_owned(), "bench".to_owned()),
            ("environment".to_owned(), "prod".to_owned()),
        ]
        .into(),
    }
}

/// Registers colonies `0..count` with `concurrency` requests in flight on
/// one HTTP/2 connection; returns how long that took.
pub async fn register_all(addr: &str, count: usize, concurrency: usize) -> Result<Duration> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let started = Instant::now();
    let workers = concurrency.max(1);
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let mut client = DiscoveryServiceClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            let mut index = worker;
            while index < count {
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
