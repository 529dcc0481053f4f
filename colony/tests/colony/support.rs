//! Start the binary, find its port from the start log, and talk to it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use coral_e2e::ServerProcess;

use serde_json::{Value, json};

pub const TOKEN: &str = "test-enrollment-token";
pub const AGENT: &str = "/coral.agent.v1.AgentService";
pub const COLONY: &str = "/coral.colony.v1.ColonyService";

/// A running `coral-colony`; killed when dropped.
pub struct Colony {
    process: ServerProcess,
    pub addr: SocketAddr,
    http: reqwest::Client,
}

pub const BINARY: &str = env!("CARGO_BIN_EXE_coral-colony");

/// Without a mesh: parallel tests would contend for one TUN device name in
/// the root namespace. `mesh.rs` runs the colony with its mesh in a
/// namespace of its own.
fn spawn(data_dir: &Path, extra_args: &[&str]) -> ServerProcess {
    let mut command = Command::new(BINARY);
    command.args(["--connect-port", "0", "--bind", "127.0.0.1", "--no-mesh"]);
    spawn_command(command, data_dir, extra_args)
}

/// Starts `command` (the colony binary, perhaps behind `ip netns exec`)
/// with the test identity, token and data directory.
pub fn spawn_command(mut command: Command, data_dir: &Path, extra_args: &[&str]) -> ServerProcess {
    command
        .args(["--log-format", "json", "--log-level", "debug"])
        .args(["--colony-id", "shop-test", "--enrollment-token", TOKEN])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra_args);
    ServerProcess::spawn(command, "Colony listening")
}

impl Colony {
    pub fn start(data_dir: &Path) -> Colony {
        Colony::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Colony {
        Colony::from_process(spawn(data_dir, extra_args))
    }

    pub fn from_process(mut process: ServerProcess) -> Colony {
        let addr = process.listening_addr();
        Colony {
            process,
            addr,
            http: reqwest::Client::new(),
        }
    }

    /// Start a colony that is expected to fail; returns its exit status and logs.
    pub fn start_failing(data_dir: &Path) -> (ExitStatus, Vec<String>) {
        Colony::start_failing_with(data_dir, &[])
    }

    pub fn start_failing_with(data_dir: &Path, extra_args: &[&str]) -> (ExitStatus, Vec<String>) {
        let mut process = spawn(data_dir, extra_args);
        match process.wait_exit(Duration::from_secs(60)) {
            Some(status) => (status, process.logs()),
            None => panic!("colony kept running: {:?}", process.logs()),
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// SIGTERM, then wait (bounded) for a clean exit.
    pub fn stop(self) -> ExitStatus {
        self.process.stop()
    }

    /// `curl -X POST <url><path> -H 'Content-Type: application/json' -d <body>`.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_to(self.addr, path, body).await
    }

    /// As [`Colony::post`], to another of the colony's addresses.
    pub async fn post_to(&self, addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("http://{addr}{path}"))
            .timeout(Duration::from_secs(10))
            .json(body)
            .send()
            .await
            .expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, value)
    }

    pub async fn agent(&self, method: &str, body: &Value) -> (u16, Value) {
        self.post(&format!("{AGENT}/{method}"), body).await
    }

    pub async fn colony(&self, method: &str, body: &Value) -> (u16, Value) {
        self.post(&format!("{COLONY}/{method}"), body).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .expect("HTTP request");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Enroll an agent and return its mesh IPv4.
    pub async fn enroll(&self, agent_id: &str, key_byte: u8) -> Value {
        let (status, body) = self
            .agent("Enroll", &enroll_body(agent_id, key_byte, TOKEN))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn report(&self, batch: &Value) -> (u16, Value) {
        self.agent("ReportFlows", batch).await
    }

    pub async fn topology(&self, include_external: bool) -> Value {
        let (status, body) = self
            .colony(
                "GetTopology",
                &json!({"windowSeconds": 3600, "includeExternal": include_external}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A distinct valid WireGuard-shaped key per fill byte.
pub fn key(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

pub fn enroll_body(agent_id: &str, key_byte: u8, token: &str) -> Value {
    json!({
        "token": token,
        "agentId": agent_id,
        "pubkey": key(key_byte),
        "nodeName": format!("node-{agent_id}"),
        "version": "0.1.0",
    })
}

pub fn workload(namespace: &str, name: &str, port: u32) -> Value {
    json!({"ip": "10.1.0.1", "port": port, "namespace": namespace, "workload": name, "kind": "WORKLOAD_KIND_DEPLOYMENT"})
}

pub fn flow(source: Value, destination: Value, connections: u64, bytes: u64) -> Value {
    json!({
        "source": source,
        "destination": destination,
        "connectionsOpened": connections,
        "connectionsClosed": connections,
        "bytesSent": bytes,
        "bytesReceived": bytes * 10,
        // Every closed connection had an RTT of 250 µs.
        "rttSumUs": 250 * connections,
        "rttSamples": connections,
    })
}

pub fn batch(agent_id: &str, sequence: u64, flows: Vec<Value>) -> Value {
    json!({"agentId": agent_id, "sequence": sequence, "flows": flows})
}

/// uint64 fields are strings in proto3 JSON and absent when zero.
pub fn u64_of(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().expect("uint64 string"),
        Value::Number(number) => number.as_u64().expect("uint64"),
        Value::Null => 0,
        other => panic!("not a uint64: {other}"),
    }
}

/// The edge from `source` to `destination` in a GetTopology body.
pub fn edge<'a>(topology: &'a Value, source: &str, destination: &str) -> Option<&'a Value> {
    topology["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["source"] == source && e["destination"] == destination)
}

pub fn edge_count(topology: &Value) -> usize {
    topology["edges"].as_array().map_or(0, Vec::len)
}
