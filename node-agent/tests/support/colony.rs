//! The real `coral-colony` and `coral-node-agent` binaries, spawned for a
//! test and killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use coral_e2e::{LinkedNetns, ServerProcess};
use serde_json::{Value, json};

pub const TOKEN: &str = "agent-test-token";

/// `coral-colony` next to this test's own target directory, or
/// `CORAL_COLONY_BIN`.
pub fn colony_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CORAL_COLONY_BIN") {
        return path.into();
    }
    coral_e2e::workspace_binary("coral-colony")
}

pub struct Colony {
    process: ServerProcess,
    pub addr: SocketAddr,
    http: reqwest::Client,
}

impl Colony {
    /// `port` 0 picks a free one; restarts pass the previous port so the
    /// agent finds the colony where it was.
    /// Without a mesh (agents report on the connect port): the colony's
    /// TUN device would share the root namespace with the agent's.
    pub fn start(data_dir: &Path, port: u16) -> Colony {
        let mut command = Command::new(colony_binary());
        command.args([
            "--connect-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--no-mesh",
        ]);
        Colony::spawn(command, data_dir)
    }

    /// With its WireGuard hub, in a namespace of its own reached over a
    /// veth link: agents enroll there and report through the tunnel.
    pub fn start_in(netns: &LinkedNetns, data_dir: &Path, mesh_cidr: &str) -> Colony {
        let mut command = netns.command(colony_binary());
        command
            .args(["--connect-port", "0", "--bind", &netns.ns_addr.to_string()])
            .args(["--mesh-ipv4-cidr", mesh_cidr]);
        Colony::spawn(command, data_dir)
    }

    fn spawn(mut command: Command, data_dir: &Path) -> Colony {
        command
            .args(["--log-format", "json", "--log-level", "info"])
            .args(["--colony-id", "agent-test", "--enrollment-token", TOKEN])
            .arg("--data-dir")
            .arg(data_dir);
        let mut process = ServerProcess::spawn(command, "Colony listening");
        let addr = process.listening_addr();
        Colony {
            process,
            addr,
            http: reqwest::Client::new(),
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// SIGKILL: a crash, no clean shutdown.
    pub fn kill(self) {
        drop(self.process);
    }

    /// `ListComponents`: what the colony lists as components.
    pub async fn components(&self) -> Vec<Value> {
        let response = self
            .http
            .post(format!(
                "http://{}/coral.colony.v1.ColonyService/ListComponents",
                self.addr
            ))
            .json(&json!({}))
            .send()
            .await
            .expect("ListComponents");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("components JSON");
        body["components"].as_array().cloned().unwrap_or_default()
    }

    pub async fn topology(&self) -> Value {
        let response = self
            .http
            .post(format!(
                "http://{}/coral.colony.v1.ColonyService/GetTopology",
                self.addr
            ))
            .json(&json!({"windowSeconds": 3600, "includeExternal": true}))
            .send()
            .await
            .expect("GetTopology");
        assert_eq!(response.status(), 200);
        response.json().await.expect("topology JSON")
    }
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

/// The edge `source → destination` on `port`, if the topology has it.
pub fn edge<'a>(
    topology: &'a Value,
    source: &str,
    destination: &str,
    port: u16,
) -> Option<&'a Value> {
    topology["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["source"] == source && e["destination"] == destination && e["port"] == u64::from(port)
        })
}

/// A running agent.
pub struct Agent {
    pub process: ServerProcess,
    pub metrics_addr: SocketAddr,
}

impl Agent {
    pub fn start(state_dir: &Path, args: &[String]) -> Agent {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coral-node-agent"));
        command
            .args(["--log-format", "json", "--metrics-addr", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(state_dir)
            .args(args);
        let mut process = ServerProcess::spawn(command, "Agent metrics listening");
        let metrics_addr = process.listening_addr();
        Agent {
            process,
            metrics_addr,
        }
    }

    /// `coral_node_agent_<name>` from /metrics, summed over its label sets
    /// (delivery metrics have one per colony).
    pub async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics_addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        let wanted = format!("coral_node_agent_{name}");
        let samples: Vec<f64> = text
            .lines()
            .filter_map(|line| line.strip_prefix(&wanted))
            .filter(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            .filter_map(|rest| rest.rsplit(' ').next()?.parse::<f64>().ok())
            .collect();
        assert!(!samples.is_empty(), "no {name} in /metrics:\n{text}");
        samples.iter().sum::<f64>() as u64
    }
}

/// Polls `probe` until it returns `Some` or `within` passes.
pub async fn eventually<T>(
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
