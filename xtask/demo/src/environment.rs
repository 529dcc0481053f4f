//! The demo's real processes, together: the pod network, the colony pod,
//! the node-agent and one app process per pod. Dropping a `Demo` stops them
//! all and removes the namespaces.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::Client;
use serde_json::{Value, json};

use crate::app::{self, AppProcess, AppSummary, Load};
use crate::cluster_app::{self, AppPod};
use crate::colony_pod::ColonyPod;
use crate::node_agent::{self, NodeAgent, NodeAgentOptions};
use crate::pod_network::PodNetwork;

/// The binaries the demo runs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub colony: PathBuf,
    pub node_agent: PathBuf,
    pub app: PathBuf,
}

impl Binaries {
    /// `coral-colony`, `coral-node-agent` and `coral-demo-app` in `dir`.
    pub fn in_dir(dir: &std::path::Path) -> Binaries {
        Binaries {
            colony: dir.join("coral-colony"),
            node_agent: dir.join("coral-node-agent"),
            app: dir.join("coral-demo-app"),
        }
    }
}

pub struct DemoOptions {
    pub namespace: String,
    pub colony: String,
    /// The node whose pods run for real (the app is pinned to it).
    pub node: String,
    pub kubeconfig: PathBuf,
    pub binaries: Binaries,
    /// Files of the colony and the agent.
    pub dir: PathBuf,
    /// Where the operator runs (and keeps the node-agents' colonies file).
    pub operator_namespace: String,
    pub load: Load,
}

/// Fields drop in order: apps, then the agent, the colony, the network.
pub struct Demo {
    apps: Vec<AppProcess>,
    agent: NodeAgent,
    colony: ColonyPod,
    _network: PodNetwork,
    pub pods: Vec<AppPod>,
    http: reqwest::Client,
}

impl Demo {
    pub async fn start(client: &Client, options: &DemoOptions) -> Result<Demo> {
        let DemoOptions {
            namespace, node, ..
        } = options;
        cluster_app::pin_to_node(client, namespace, node).await?;
        let pods = cluster_app::running_pods(client, namespace, node).await?;
        let cluster_ips = cluster_app::cluster_ips(client, namespace).await?;

        let colony = ColonyPod::start(
            client,
            namespace,
            &options.colony,
            &options.binaries.colony,
            &options.kubeconfig,
            &options.dir.join("colony"),
        )
        .await?;
        let colony_ref = format!("{namespace}/{}", options.colony);
        let state_dir = options.dir.join("node-agent");
        let colonies_file = node_agent::write_colonies_file(
            client,
            &options.operator_namespace,
            &colony_ref,
            &state_dir.join("colonies.yaml"),
        )
        .await?;
        let agent = NodeAgent::start(&NodeAgentOptions {
            binary: &options.binaries.node_agent,
            kubeconfig: &options.kubeconfig,
            node,
            state_dir: &state_dir,
            colonies_file: &colonies_file,
        });

        let mut network = PodNetwork::create()?;
        let mut pod_netns = Vec::new();
        for pod in &pods {
            pod_netns.push(network.add_pod(&pod.name, pod.ip)?);
        }
        // Each Service's ClusterIP answers on the first of its pods.
        for (app, ip) in &cluster_ips {
            if let Some(first) = pods.iter().position(|p| &p.app == app) {
                network.serve_cluster_ip(&pod_netns[first], *ip)?;
            }
        }
        let mut apps = Vec::new();
        // Back to front, so each tier's upstream is listening before it calls.
        for tier in &app::TIERS {
            for (pod, netns) in pods
                .iter()
                .zip(&pod_netns)
                .filter(|(p, _)| p.app == tier.app)
            {
                let process = AppProcess::start(
                    &network,
                    netns,
                    tier,
                    &options.binaries.app,
                    |app| cluster_ips.get(app).copied(),
                    options.load,
                )
                .with_context(|| format!("pod {}", pod.name))?;
                apps.push(process);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(Demo {
            apps,
            agent,
            colony,
            _network: network,
            pods,
            http: reqwest::Client::new(),
        })
    }

    /// The colony's topology, straight from its connect port.
    pub async fn topology(&self) -> Result<Value> {
        let url = format!(
            "{}/coral.colony.v1.ColonyService/GetTopology",
            self.colony.endpoint()
        );
        let response = self
            .http
            .post(url)
            .json(&json!({"windowSeconds": 3600, "includeExternal": true}))
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json().await?)
    }

    /// Connections on the edge `namespace/from → namespace/to`, summed over
    /// ports.
    pub async fn connections(&self, namespace: &str, from: &str, to: &str) -> Result<u64> {
        Ok(edge_connections(
            &self.topology().await?,
            &format!("{namespace}/{from}"),
            &format!("{namespace}/{to}"),
        ))
    }

    /// Stop the app processes; what each did, by pod.
    pub fn stop_apps(&mut self) -> Result<Vec<(String, AppSummary)>> {
        self.apps
            .drain(..)
            .map(|process| {
                let pod = process.pod.clone();
                process.stop().map(|summary| (pod, summary))
            })
            .collect()
    }

    /// The logs of the colony and the agent, for a failing check.
    pub fn logs(&self) -> String {
        format!(
            "colony:\n{}\nnode-agent:\n{}",
            self.colony.logs().join("\n"),
            self.agent.logs().join("\n")
        )
    }
}

/// uint64 fields are strings in proto3 JSON, and absent when zero.
fn edge_connections(topology: &Value, source: &str, destination: &str) -> u64 {
    topology["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["source"] == source && e["destination"] == destination)
        .map(|e| match &e["connections"] {
            Value::String(text) => text.parse().unwrap_or(0),
            Value::Number(number) => number.as_u64().unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_summed_over_ports() {
        let topology = json!({"edges": [
            {"source": "d/frontend", "destination": "d/api", "port": 8080, "connections": "20"},
            {"source": "d/frontend", "destination": "d/api", "port": 8443, "connections": 2},
            {"source": "d/api", "destination": "d/database", "port": 5432},
        ]});
        assert_eq!(edge_connections(&topology, "d/frontend", "d/api"), 22);
        assert_eq!(edge_connections(&topology, "d/api", "d/database"), 0);
        assert_eq!(edge_connections(&topology, "d/web", "d/api"), 0);
    }
}
