//! The colony announces itself to a real coral-discovery (run in-process
//! here) with its WireGuard key and connect port, renews the lease, and
//! deregisters on SIGTERM so lookups stop finding it.

use std::net::TcpListener;
use std::time::Duration;

use clap::Parser;
use coral_e2e::poll_until;
use serde_json::{Value, json};

use crate::support::Colony;

const LOOKUP: &str = "coral.discovery.v1.DiscoveryService/LookupColony";

/// A coral-discovery on a free loopback port, stopped when dropped. It
/// runs on the test's runtime, so tests use a multi-thread runtime: a
/// blocking `Colony::stop` must not starve the deregistration it waits for.
struct Discovery {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Discovery {
    fn start() -> Discovery {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = coral_discovery::Config::parse_from([
            "coral-discovery",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ]);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            coral_discovery::run(config, shutdown)
                .await
                .expect("discovery runs");
        });
        Discovery {
            url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
        }
    }

    async fn lookup(&self, mesh_id: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/{LOOKUP}", self.url))
            .json(&json!({"mesh_id": mesh_id}))
            .send()
            .await;
        match response {
            Ok(response) => (
                response.status().as_u16(),
                response.json().await.unwrap_or(Value::Null),
            ),
            // Not listening yet.
            Err(_) => (0, Value::Null),
        }
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_its_key_and_port_then_deregisters_on_stop() {
    let discovery = Discovery::start();
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start_with(
        dir.path(),
        &[
            "--discovery-endpoint",
            &discovery.url,
            "--discovery-interval",
            "1",
        ],
    );

    let found = poll_until(
        "the colony's registration",
        Duration::from_secs(30),
        || async {
            let (status, body) = discovery.lookup("shop-test").await;
            Ok(if status == 200 {
                Ok(body)
            } else {
                Err((status, body))
            })
        },
    )
    .await
    .unwrap();
    let key_file = std::fs::read_to_string(dir.path().join("wireguard.key")).unwrap();
    let key: coral_mesh::SecretKey = key_file.trim().parse().unwrap();
    assert_eq!(found["pubkey"], key.public_key().to_base64());
    assert_eq!(found["connectPort"], colony.addr.port());
    assert_eq!(found["meshIpv4"], "10.42.0.1");
    // Without --public-endpoint, no host (callers use the one they reached
    // discovery's answer through).
    assert_eq!(found["endpoints"], json!([":41580"]));
    assert_eq!(found["metadata"]["application"], "my-app");

    // The line follows discovery's answer, which the lookup may beat.
    poll_until(
        "the colony's registration log line",
        Duration::from_secs(10),
        || async {
            let logs = colony.logs().join("\n");
            anyhow::Ok(
                if logs.contains("Successfully registered with discovery service") {
                    Ok(())
                } else {
                    Err(logs)
                },
            )
        },
    )
    .await
    .unwrap();
    let logs = colony.logs().join("\n");
    assert!(logs.contains("Starting registration manager"), "{logs}");

    assert!(colony.stop().success());
    let (status, body) = discovery.lookup("shop-test").await;
    assert_eq!(status, 404, "still registered after a clean stop: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_serving_when_discovery_is_down_and_says_what_to_check() {
    let unused = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let dir = tempfile::tempdir().unwrap();
    let colony = Colony::start_with(dir.path(), &["--discovery-endpoint", &url]);
    let warned = poll_until(
        "a warning about discovery",
        Duration::from_secs(30),
        || async {
            let logs = colony.logs().join("\n");
            let warned = logs.contains("Failed to register with discovery service");
            Ok(if warned { Ok(logs) } else { Err(logs.len()) })
        },
    )
    .await
    .unwrap();
    assert!(warned.contains("is coral-discovery running"), "{warned}");
    let (status, _) = colony.colony("GetStatus", &json!({})).await;
    assert_eq!(status, 200);
}

#[test]
fn a_discovery_endpoint_without_scheme_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, logs) =
        Colony::start_failing_with(dir.path(), &["--discovery-endpoint", "localhost:8080"]);
    assert!(!exit.success());
    let logs = logs.join("\n");
    assert!(logs.contains("http://localhost:8080"), "{logs}");
}
