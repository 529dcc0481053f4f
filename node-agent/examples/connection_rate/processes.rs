//! The real binaries: `coral-colony` (DuckDB, no mesh, on loopback) and
//! `coral-node-agent` in host mode reporting to it, with what the benchmark
//! reads from them: the colony's topology, the agent's CPU time, memory and
//! metrics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use coral_e2e::ServerProcess;
use serde_json::{Value, json};

pub const TOKEN: &str = "agent-bench-token";

/// A release binary of the workspace: beside this example's directory
/// (`target/release/examples/..`), where `cargo xtask bench agent` built it.
pub fn release_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe
        .parent()
        .and_then(Path::parent)
        .context("the driver is not in target/<profile>/examples")?
        .join(name);
    ensure!(
        path.exists(),
        "{} is missing: build it with `cargo build --release --bin {name}` \
         (cargo xtask bench agent does)",
        path.display()
    );
    Ok(path)
}

/// Blocking HTTP calls on a runtime of its own (the driver is synchronous).
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Self> {
        Ok(Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            // A fresh connection per call: a pooled one the server closed
            // while the driver was busy making traffic fails the next call.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(0)
                .build()?,
        })
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value> {
        self.runtime.block_on(async {
            let response = self.client.post(url).json(body).send().await?;
            let status = response.status();
            ensure!(status.is_success(), "POST {url}: {status}");
            Ok(response.json().await?)
        })
    }

    fn get(&self, url: &str) -> Result<String> {
        self.runtime.block_on(async {
            let response = self.client.get(url).send().await?;
            let status = response.status();
            ensure!(status.is_success(), "GET {url}: {status}");
            Ok(response.text().await?)
        })
    }
}

pub struct Colony {
    process: ServerProcess,
    pub addr: SocketAddr,
}

/// One edge of the colony's topology.
pub struct Edge {
    pub source: String,
    pub destination: String,
    pub port: u16,
    pub connections: u64,
}

impl Colony {
    /// Without a mesh: its TUN device would share the root namespace with
    /// the agent's, and the tunnel is not what this benchmark measures.
    pub fn start(binary: &Path, data_dir: &Path) -> Colony {
        let mut command = Command::new(binary);
        command
            .args(["--connect-port", "0", "--bind", "127.0.0.1", "--no-mesh"])
            .args(["--log-format", "json", "--log-level", "info"])
            .args(["--colony-id", "agent-bench", "--enrollment-token", TOKEN])
            .arg("--data-dir")
            .arg(data_dir);
        let mut process = ServerProcess::spawn(command, "Colony listening");
        let addr = process.listening_addr();
        Colony { process, addr }
    }

    /// `GetTopology` over the last hour (longer than the whole run).
    pub fn edges(&self, http: &Http) -> Result<Vec<Edge>> {
        let url = format!(
            "http://{}/coral.colony.v1.ColonyService/GetTopology",
            self.addr
        );
        let topology = http.post(&url, &json!({"windowSeconds": 3600}))?;
        let edges = topology["edges"].as_array().into_iter().flatten();
        Ok(edges
            .map(|e| Edge {
                source: e["source"].as_str().unwrap_or_default().to_owned(),
                destination: e["destination"].as_str().unwrap_or_default().to_owned(),
                port: e["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0),
                connections: u64_of(&e["connections"]),
            })
            .collect())
    }

    /// Connections on `source → destination:port` (0 while it is absent).
    pub fn connections(
        &self,
        http: &Http,
        source: &str,
        destination: &str,
        port: u16,
    ) -> Result<u64> {
        Ok(self
            .edges(http)?
            .iter()
            .find(|e| e.source == source && e.destination == destination && e.port == port)
            .map_or(0, |e| e.connections))
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// CPU time of all its threads (see [`cpu_time_of`]).
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time_of(self.process.pid())
    }
}

/// CPU time of all threads of `pid` (user + system), from each thread's
/// `schedstat` (nanoseconds; `stat` counts 10 ms ticks, too coarse for a few
/// seconds of a mostly idle process).
fn cpu_time_of(pid: u32) -> Result<Duration> {
    let tasks = format!("/proc/{pid}/task");
    let mut total = 0u64;
    for task in std::fs::read_dir(&tasks).with_context(|| format!("reading {tasks}"))? {
        // A thread that exited since the listing has nothing to add.
        let Ok(text) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += text
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .context("schedstat without a run time")?;
    }
    Ok(Duration::from_nanos(total))
}

/// uint64 fields are strings in proto3 JSON and absent when zero.
fn u64_of(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// How to start the agent: binary and flags (host mode, the colony).
pub struct AgentLauncher {
    pub binary: PathBuf,
    pub args: Vec<String>,
}

pub struct Agent {
    process: ServerProcess,
    metrics_addr: SocketAddr,
}

impl AgentLauncher {
    /// Starts the agent and waits until it has enrolled; its program is
    /// attached before then.
    pub fn start(&self) -> Result<Agent> {
        let mut command = Command::new(&self.binary);
        command
            .args(["--log-format", "json", "--metrics-addr", "127.0.0.1:0"])
            .args(&self.args);
        let mut process = ServerProcess::spawn(command, "Agent metrics listening");
        let metrics_addr = process.listening_addr();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !process
            .logs()
            .iter()
            .any(|line| line.contains("enrolled with the colony"))
        {
            if Instant::now() > deadline {
                bail!(
                    "the agent did not enroll within 60 s: {:#?}",
                    process.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Agent {
            process,
            metrics_addr,
        })
    }
}

/// Peak and current resident set size, bytes.
pub struct Memory {
    pub peak: u64,
    pub current: u64,
}

impl Agent {
    /// CPU time of all its threads (see [`cpu_time_of`]).
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time_of(self.process.pid())
    }

    /// `VmHWM` and `VmRSS` from `/proc/<pid>/status`.
    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.process.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let kib = |field: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {field} in {path}"))
        };
        Ok(Memory {
            peak: kib("VmHWM:")? * 1024,
            current: kib("VmRSS:")? * 1024,
        })
    }

    /// `coral_node_agent_<name>` from /metrics, summed over its label sets.
    pub fn metric(&self, http: &Http, name: &str) -> Result<u64> {
        let text = http.get(&format!("http://{}/metrics", self.metrics_addr))?;
        let wanted = format!("coral_node_agent_{name}");
        let samples: Vec<f64> = text
            .lines()
            .filter_map(|line| line.strip_prefix(&wanted))
            .filter(|rest| rest.starts_with(' ') || rest.starts_with('{'))
            .filter_map(|rest| rest.rsplit(' ').next()?.parse().ok())
            .collect();
        ensure!(!samples.is_empty(), "no {wanted} in the agent's /metrics");
        Ok(samples.iter().sum::<f64>() as u64)
    }

    /// SIGTERM: a last drain and delivery, then exit.
    pub fn stop(self) -> Result<()> {
        let logs = self.process.logs();
        let status = self.process.stop();
        ensure!(status.success(), "agent exit {status}: {logs:#?}");
        Ok(())
    }
}
