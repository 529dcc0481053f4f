//! The node-agent of one node, run for real: the `coral-node-agent` binary
//! in Kubernetes mode, with the colonies file the operator keeps for its
//! DaemonSet (the `coral-node-agent-colonies` Secret), watching the local
//! cluster's pods, Services and Connections, enrolling with each colony and
//! reporting through the mesh.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use coral_config::AgentColoniesFile;
use coral_e2e::{ServerProcess, poll_until};
use coral_operator::node_agent::colonies::{FILE_KEY, SECRET_NAME};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

/// How long the operator may take to list a new Colony.
const LISTING_TIMEOUT: Duration = Duration::from_secs(60);

pub struct NodeAgent {
    process: ServerProcess,
    pub metrics_addr: SocketAddr,
}

/// Where and as what the agent runs.
pub struct NodeAgentOptions<'a> {
    pub binary: &'a Path,
    pub kubeconfig: &'a Path,
    pub node: &'a str,
    pub state_dir: &'a Path,
    /// The colonies file, as the DaemonSet's pod would have it mounted.
    pub colonies_file: &'a Path,
}

impl NodeAgent {
    pub fn start(options: &NodeAgentOptions) -> NodeAgent {
        let mut command = Command::new(options.binary);
        command
            .env("KUBECONFIG", options.kubeconfig)
            .args(["--node-name", options.node])
            .arg("--colonies-file")
            .arg(options.colonies_file)
            .arg("--state-dir")
            .arg(options.state_dir)
            // Short drains so the demo shows traffic within seconds.
            .args(["--drain-interval", "2"])
            .args(["--metrics-addr", "127.0.0.1:0", "--log-format", "json"]);
        let mut process = ServerProcess::spawn(command, "Agent metrics listening");
        let metrics_addr = process.listening_addr();
        NodeAgent {
            process,
            metrics_addr,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }
}

/// Writes the operator's colonies file for node-agents to `path` once it
/// lists `colony` (`namespace/name`).
pub async fn write_colonies_file(
    client: &Client,
    operator_namespace: &str,
    colony: &str,
    path: &Path,
) -> Result<PathBuf> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), operator_namespace);
    let what = format!(
        "the operator to list Colony {colony} in Secret {operator_namespace}/{SECRET_NAME}"
    );
    let text = poll_until(&what, LISTING_TIMEOUT, || {
        let secrets = secrets.clone();
        async move {
            let text = secrets
                .get_opt(SECRET_NAME)
                .await?
                .and_then(|secret| secret.data?.remove(FILE_KEY))
                .and_then(|bytes| String::from_utf8(bytes.0).ok());
            let listed = text.as_deref().and_then(|text| {
                let file = AgentColoniesFile::parse(text).ok()?;
                file.colonies
                    .iter()
                    .any(|entry| entry.colony == colony)
                    .then_some(())
            });
            anyhow::Ok(match (text, listed) {
                (Some(text), Some(())) => Ok(text),
                _ => Err("not yet"),
            })
        }
    })
    .await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_owned())
}
