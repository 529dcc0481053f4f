//! Command-line flags (each with an environment variable).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use coral_telemetry::{LogFormat, LogLevel};

use crate::attribution::StaticWorkload;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Attribute by pod IP and Service ClusterIP from the Kubernetes API.
    Kubernetes,
    /// No Kubernetes: attribute by the `--workload` entries.
    Host,
}

#[derive(Clone, Debug, Parser)]
#[command(
    name = "coral-node-agent",
    version,
    about = "Counts TCP connections per flow in the kernel (eBPF), attributes them to \
             workloads and reports them to the colony"
)]
pub struct Config {
    /// Where workload names come from.
    #[arg(long, env = "CORAL_MODE", value_enum, default_value = "kubernetes")]
    pub mode: Mode,

    /// Host mode: a workload and its address, `[NAMESPACE/]NAME=IP[:PORT]`
    /// (repeatable; with a port, only that listening port).
    #[arg(long = "workload", value_name = "[NAMESPACE/]NAME=IP[:PORT]")]
    pub workloads: Vec<StaticWorkload>,

    /// Host mode: a directory of `*.workload` files, one
    /// `[NAMESPACE/]NAME=IP[:PORT]` per line (what `coral connect` writes),
    /// read again every 2 s.
    #[arg(long, env = "CORAL_WORKLOADS_DIR")]
    pub workloads_dir: Option<PathBuf>,

    /// One colony's connect endpoint, where the agent enrolls, e.g.
    /// http://10.96.0.10:9000 (or give --colonies-file).
    #[arg(
        long,
        env = "CORAL_COLONY_ENDPOINT",
        required_unless_present = "colonies_file",
        conflicts_with = "colonies_file"
    )]
    pub colony_endpoint: Option<String>,

    /// A colonies.yaml listing every colony to report to, with endpoints and
    /// tokens (in cluster: the operator's `coral-node-agent-colonies`
    /// Secret); re-read when it changes. Flows go to the colonies whose
    /// Connections select either end.
    #[arg(long, env = "CORAL_COLONIES_FILE")]
    pub colonies_file: Option<PathBuf>,

    /// Name of the TUN device this agent's end of the mesh uses.
    #[arg(long, default_value = coral_mesh::DEFAULT_INTERFACE, env = "CORAL_MESH_INTERFACE")]
    pub mesh_interface: String,

    /// The colony's enrollment token.
    #[arg(long, env = "CORAL_ENROLLMENT_TOKEN", hide_env_values = true)]
    pub enrollment_token: Option<String>,

    /// A file holding the enrollment token (e.g. a mounted Secret).
    #[arg(
        long,
        env = "CORAL_ENROLLMENT_TOKEN_FILE",
        conflicts_with = "enrollment_token"
    )]
    pub enrollment_token_file: Option<PathBuf>,

    /// With --colony-endpoint: `namespace/name` of the Colony the flows are
    /// for. In Kubernetes mode only flows of workloads its Connections select
    /// are then reported; empty reports every attributed flow.
    #[arg(
        long,
        env = "CORAL_COLONY",
        default_value = "",
        conflicts_with = "colonies_file"
    )]
    pub colony: String,

    /// Keeps the node's WireGuard key and the batch sequence across restarts.
    #[arg(
        long,
        env = "CORAL_STATE_DIR",
        default_value = "/var/lib/coral-node-agent"
    )]
    pub state_dir: PathBuf,

    /// This node's name (the pod's spec.nodeName in cluster); default: the host name.
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// The id the agent enrolls under; default: the node name.
    #[arg(long, env = "CORAL_AGENT_ID")]
    pub agent_id: Option<String>,

    /// Seconds between drains of the kernel maps (one batch each). A
    /// connection reaches the topology at most this plus delivery after it
    /// was made (≤ 5 s with the default).
    #[arg(long, env = "CORAL_DRAIN_INTERVAL", default_value = "4", value_parser = seconds)]
    pub drain_interval: Duration,

    /// Seconds between heartbeats.
    #[arg(long, default_value = "10", value_parser = seconds)]
    pub heartbeat_interval: Duration,

    /// Batches kept while the colony is unreachable; beyond it the oldest are
    /// dropped and counted (900 × 4 s = one hour).
    #[arg(long, env = "CORAL_BUFFER_BATCHES", default_value_t = 900)]
    pub buffer_batches: usize,

    /// Longest wait between delivery attempts, in seconds.
    #[arg(long, default_value = "5", value_parser = seconds)]
    pub max_retry_interval: Duration,

    /// Kernel flow-map capacity (both drain halves together).
    #[arg(long, default_value_t = coral_node_agent_common::FLOW_MAP_DEFAULT_ENTRIES)]
    pub flow_map_entries: u32,

    /// `/metrics`, `/healthz` and `/readyz` (port 0 picks a free port, logged).
    #[arg(long, env = "CORAL_METRICS_ADDR", default_value = "0.0.0.0:9464")]
    pub metrics_addr: SocketAddr,

    #[arg(long, env = "CORAL_LOG_LEVEL", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    #[arg(long, env = "CORAL_LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        return Err(format!("{text} s is out of range (0 < s ≤ 86400)"));
    }
    Ok(Duration::from_secs_f64(value))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no enrollment token: pass --enrollment-token, --enrollment-token-file or \
         CORAL_ENROLLMENT_TOKEN (the colony's token, e.g. from `coral colony token`)"
    )]
    NoToken,
    #[error("cannot read the enrollment token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the enrollment token file {0} is empty")]
    EmptyTokenFile(PathBuf),
    #[error(
        "host mode needs at least one --workload [NAMESPACE/]NAME=IP[:PORT] or a --workloads-dir \
         (flows of unnamed addresses are not reported)"
    )]
    NoWorkloads,
    #[error("--workload only applies to --mode host")]
    WorkloadsOutsideHostMode,
    #[error(
        "--colonies-file needs --mode kubernetes (it scopes flows by Connections); \
         in host mode give --colony-endpoint and --enrollment-token"
    )]
    ColoniesFileInHostMode,
}

impl Config {
    pub fn enrollment_token(&self) -> Result<String, ConfigError> {
        if let Some(token) = &self.enrollment_token {
            return Ok(token.trim().to_owned());
        }
        let path = self
            .enrollment_token_file
            .as_ref()
            .ok_or(ConfigError::NoToken)?;
        let token = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::TokenFile {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_owned();
        if token.is_empty() {
            return Err(ConfigError::EmptyTokenFile(path.clone()));
        }
        Ok(token)
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        match self.mode {
            Mode::Host if self.workloads.is_empty() && self.workloads_dir.is_none() => {
                Err(ConfigError::NoWorkloads)
            }
            Mode::Kubernetes if !self.workloads.is_empty() => {
                Err(ConfigError::WorkloadsOutsideHostMode)
            }
            Mode::Host if self.colonies_file.is_some() => Err(ConfigError::ColoniesFileInHostMode),
            _ => Ok(()),
        }
    }

    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|name| name.trim().to_owned())
                .unwrap_or_else(|_| "unknown-node".to_owned())
        })
    }

    pub fn agent_id(&self) -> String {
        self.agent_id.clone().unwrap_or_else(|| self.node_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        let base = [
            "coral-node-agent",
            "--colony-endpoint",
            "http://127.0.0.1:9000",
        ];
        Config::try_parse_from(base.iter().chain(args))
    }

    #[test]
    fn host_mode_flags() {
        let config = parse(&[
            "--mode",
            "host",
            "--workload",
            "shop/api=10.0.0.2:8080",
            "--workload",
            "web=10.0.0.1",
            "--enrollment-token",
            "t",
            "--drain-interval",
            "0.5",
        ])
        .unwrap();
        assert_eq!(config.workloads.len(), 2);
        assert_eq!(config.drain_interval, Duration::from_millis(500));
        assert!(config.check().is_ok());
        assert_eq!(config.enrollment_token().unwrap(), "t");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let no_workloads = parse(&["--mode", "host"]).unwrap();
        assert!(
            no_workloads
                .check()
                .unwrap_err()
                .to_string()
                .contains("--workload")
        );
        let misplaced = parse(&["--workload", "a=10.0.0.1"]).unwrap();
        assert!(misplaced.check().is_err());
        let no_token = parse(&[]).unwrap().enrollment_token().unwrap_err();
        assert!(no_token.to_string().contains("--enrollment-token-file"));
        let file_in_host_mode = Config::try_parse_from([
            "coral-node-agent",
            "--mode",
            "host",
            "--workload",
            "a=10.0.0.1",
            "--colonies-file",
            "/etc/coral/colonies/colonies.yaml",
        ])
        .unwrap();
        assert!(
            file_in_host_mode
                .check()
                .unwrap_err()
                .to_string()
                .contains("--mode kubernetes")
        );
        let neither = Config::try_parse_from(["coral-node-agent"]).unwrap_err();
        assert!(
            neither.to_string().contains("--colony-endpoint"),
            "{neither}"
        );
        let both = parse(&["--colonies-file", "/x"]).unwrap_err();
        assert!(both.to_string().contains("cannot be used with"), "{both}");
        let bad = parse(&["--mode", "host", "--workload", "api"]).unwrap_err();
        assert!(bad.to_string().contains("[NAMESPACE/]NAME=IP"), "{bad}");
        assert!(parse(&["--drain-interval", "0"]).is_err());
        assert!(parse(&["--drain-interval", "NaN"]).is_err());
    }

    #[test]
    fn token_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret\n").unwrap();
        let config = parse(&["--enrollment-token-file", path.to_str().unwrap()]).unwrap();
        assert_eq!(config.enrollment_token().unwrap(), "secret");
        std::fs::write(&path, "\n").unwrap();
        assert!(config.enrollment_token().is_err());
    }
}
