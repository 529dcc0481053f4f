//! A throwaway `CORAL_HOME`, the binaries under test, and a minimal agent
//! speaking the colony's Connect-JSON agent API.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{Value, json};

/// A temp dir used as both HOME and CORAL_HOME; stops any colony still
/// running from it when dropped.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn coral_home(&self) -> PathBuf {
        self.dir.path().join(".coral")
    }

    /// `coral` with this home, no colours and no inherited Coral settings.
    pub fn coral(&self) -> Command {
        let mut command = Command::from_std(self.coral_std());
        command.timeout(Duration::from_secs(180));
        command
    }

    pub fn coral_std(&self) -> StdCommand {
        let mut command = self.with_home(StdCommand::new(assert_cmd::cargo::cargo_bin("coral")));
        // Parallel tests' colonies would contend for one TUN device name;
        // the mesh has its own tests (colony, node-agent).
        command.env("CORAL_NO_MESH", "1");
        command
    }

    /// `coral` with this home inside `netns`, with the colony's mesh (the
    /// namespace has TUN device names of its own). Through nsenter rather
    /// than `ip netns exec`, which mounts a sysfs of its own and so hides
    /// the cgroup v2 mount the node-agent attaches to.
    pub fn coral_in(&self, netns: &coral_e2e::LinkedNetns) -> StdCommand {
        let mut command = StdCommand::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", netns.name))
            .arg(assert_cmd::cargo::cargo_bin("coral"));
        self.with_home(command)
    }

    /// `command` with this home, no colours and no inherited Coral settings.
    fn with_home(&self, mut command: StdCommand) -> StdCommand {
        for key in INHERITED {
            command.env_remove(key);
        }
        command
            .env("HOME", self.dir.path())
            .env("CORAL_HOME", self.coral_home())
            .env("NO_COLOR", "1")
            .env_remove("CORAL_NO_MESH");
        command
    }

    /// `coral init --app <app> --env <env> --colony-id <id> --connect-port <port>`.
    pub fn init(&self, app: &str, env: &str, id: &str, port: u16) {
        self.coral()
            .args(["init", "--app", app, "--env", env, "--colony-id", id])
            .args(["--connect-port", &port.to_string()])
            .assert()
            .success();
    }

    pub fn colony_yaml(&self, id: &str) -> Value {
        let path = self
            .coral_home()
            .join("colonies")
            .join(format!("{id}.yaml"));
        let text = std::fs::read_to_string(&path).expect("colony file");
        serde_yaml::from_str(&text).expect("colony YAML")
    }

    fn pid_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.coral_home().join("colonies"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "pid"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // A failed test must not leave a colony daemon behind.
        for path in self.pid_files() {
            if let Some(pid) = read_pid(&path) {
                let _ = StdCommand::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
                wait_gone(pid, Duration::from_secs(20));
                let _ = StdCommand::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

const INHERITED: [&str; 7] = [
    "CORAL_COLONY",
    "CORAL_PUBLIC_ENDPOINT",
    "CORAL_LOG_LEVEL",
    "CORAL_CONNECT_PORT",
    "CORAL_DATA_DIR",
    "CORAL_ENROLLMENT_TOKEN",
    "CORAL_ENROLLMENT_TOKEN_FILE",
];

pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !matches!(
                stat.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().next()),
                Some("Z" | "X")
            )
        })
        .unwrap_or(false)
}

pub fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A port free right now (the colony binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An agent of one colony, over Connect-JSON (blocking, on its own
/// current-thread runtime).
pub struct Agent {
    url: String,
    token: String,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Agent {
    pub fn new(url: &str, token: &str) -> Agent {
        Agent {
            url: url.to_owned(),
            token: token.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            http: reqwest::Client::new(),
        }
    }

    pub fn post(&self, method: &str, body: &Value) -> (u16, Value) {
        let url = format!("{}/coral.agent.v1.AgentService/{method}", self.url);
        self.runtime.block_on(async {
            let response = self.http.post(url).json(body).send().await.expect("HTTP");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        })
    }

    pub fn enroll(&self, agent_id: &str, key_byte: u8) {
        use base64::Engine as _;
        let pubkey = base64::engine::general_purpose::STANDARD.encode([key_byte; 32]);
        let (status, body) = self.post(
            "Enroll",
            &json!({
                "token": self.token,
                "agentId": agent_id,
                "pubkey": pubkey,
                "nodeName": format!("node-{agent_id}"),
                "version": "0.1.0",
            }),
        );
        assert_eq!(status, 200, "enroll: {body}");
    }

    pub fn report(&self, agent_id: &str, sequence: u64, flows: Vec<Value>) {
        let (status, body) = self.post(
            "ReportFlows",
            &json!({"agentId": agent_id, "sequence": sequence, "flows": flows}),
        );
        assert_eq!(status, 200, "report: {body}");
    }
}

pub fn workload(namespace: &str, name: &str, port: u32) -> Value {
    json!({"ip": "10.244.1.7", "port": port, "namespace": namespace, "workload": name, "kind": "WORKLOAD_KIND_DEPLOYMENT"})
}

pub fn external(ip: &str, port: u32) -> Value {
    json!({"ip": ip, "port": port})
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

/// Report a three-tier app's traffic: frontend → api (30 connections),
/// api → database (12), api → 203.0.113.9:443 (2).
pub fn report_demo_traffic(url: &str, token: &str) {
    let agent = Agent::new(url, token);
    agent.enroll("node-1", 1);
    agent.enroll("node-2", 2);
    agent.report(
        "node-1",
        1,
        vec![flow(
            workload("shop", "frontend", 0),
            workload("shop", "api", 8080),
            30,
            2_000,
        )],
    );
    agent.report(
        "node-2",
        1,
        vec![
            flow(
                workload("shop", "api", 0),
                workload("shop", "database", 5432),
                12,
                500,
            ),
            flow(
                workload("shop", "api", 0),
                external("203.0.113.9", 443),
                2,
                100,
            ),
        ],
    );
}

/// uint64 fields are strings in proto3 JSON.
pub fn u64_of(value: &Value) -> u64 {
    match value {
        Value::String(text) => text.parse().expect("uint64 string"),
        Value::Number(number) => number.as_u64().expect("uint64"),
        Value::Null => 0,
        other => panic!("not a uint64: {other}"),
    }
}

pub fn edge<'a>(topology: &'a Value, source: &str, destination: &str) -> &'a Value {
    topology["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["source"] == source && e["destination"] == destination)
        .unwrap_or_else(|| panic!("no edge {source} → {destination} in {topology}"))
}
