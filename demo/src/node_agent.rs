//! The node-agent of one node, run for real: the `coral-node-agent` binary
//! in Kubernetes mode, watching the local cluster's pods and Services for
//! its node, enrolling with the colony pod and reporting through the mesh.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use coral_e2e::ServerProcess;

use crate::colony_pod::ColonyPod;

pub struct NodeAgent {
    process: ServerProcess,
    pub metrics_addr: SocketAddr,
}

/// Where and as what the agent runs.
pub struct NodeAgentOptions<'a> {
    pub binary: &'a Path,
    pub kubeconfig: &'a Path,
    pub node: &'a str,
    /// `namespace/name` of the Colony, put on every batch.
    pub colony_ref: &'a str,
    pub state_dir: &'a Path,
    /// The agent's WireGuard TUN device (at most 15 bytes).
    pub mesh_interface: &'a str,
}

impl NodeAgent {
    pub fn start(options: &NodeAgentOptions, colony: &ColonyPod) -> NodeAgent {
        let mut command = Command::new(options.binary);
        command
            .env("KUBECONFIG", options.kubeconfig)
            .args(["--node-name", options.node])
            .args(["--colony-endpoint", &colony.endpoint()])
            .arg("--enrollment-token-file")
            .arg(&colony.token_file)
            .args(["--colony", options.colony_ref])
            .arg("--state-dir")
            .arg(options.state_dir)
            .args(["--mesh-interface", options.mesh_interface])
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
