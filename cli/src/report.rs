//! What `status` and `topology` show, fetched from a colony: the same data
//! renders as a table/tree or as JSON/YAML (proto3 JSON names).

use coral_proto::colony::v1::{
    Agent, Component, GetStatusResponse, GetTopologyRequest, GetTopologyResponse,
};
use serde::Serialize;

use crate::client::ColonyClient;
use crate::error::CliError;

/// Window used to list components seen in traffic when the colony has no
/// inventory of them (local colonies).
pub const OBSERVED_WINDOW_SECONDS: i64 = 300;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// How the colony was reached: "running locally", "in cluster, namespace shop".
    pub location: String,
    pub colony: GetStatusResponse,
    pub agents: Vec<Agent>,
    pub components: Vec<Component>,
    /// Components seen in traffic (`namespace/workload`) when the colony
    /// has no inventory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<ObservedComponent>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedComponent {
    pub name: String,
    pub namespace: String,
    /// Ports other components connected to.
    pub ports: Vec<u32>,
}

impl StatusReport {
    pub async fn fetch(client: &ColonyClient, location: &str) -> Result<StatusReport, CliError> {
        let colony = client.get_status().await?;
        let agents = client.list_agents().await?.agents;
        let components = client.list_components().await?.components;
        let observed = if components.is_empty() {
            let topology = client
                .get_topology(&GetTopologyRequest {
                    window_seconds: OBSERVED_WINDOW_SECONDS,
                    namespace: String::new(),
                    include_external: false,
                })
                .await?;
            observed_components(&topology)
        } else {
            Vec::new()
        };
        Ok(StatusReport {
            location: location.to_owned(),
            colony,
            agents,
            components,
            observed,
        })
    }
}

/// Internal nodes of a topology, with the ports they were reached on.
pub fn observed_components(topology: &GetTopologyResponse) -> Vec<ObservedComponent> {
    let mut out: Vec<ObservedComponent> = topology
        .nodes
        .iter()
        .filter(|node| !node.external)
        .map(|node| {
            let mut ports: Vec<u32> = topology
                .edges
                .iter()
                .filter(|edge| edge.destination == node.id && edge.port != 0)
                .map(|edge| edge.port)
                .collect();
            ports.sort_unstable();
            ports.dedup();
            ObservedComponent {
                name: if node.name.is_empty() {
                    node.id.clone()
                } else {
                    node.name.clone()
                },
                namespace: node.namespace.clone(),
                ports,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologyReport {
    pub window_seconds: i64,
    #[serde(flatten)]
    pub topology: GetTopologyResponse,
}

impl TopologyReport {
    pub async fn fetch(
        client: &ColonyClient,
        request: GetTopologyRequest,
    ) -> Result<TopologyReport, CliError> {
        let window_seconds = request.window_seconds;
        let topology = client.get_topology(&request).await?;
        Ok(TopologyReport {
            window_seconds,
            topology,
        })
    }
}
