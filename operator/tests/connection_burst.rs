//! Many Connections already present when the operator starts: every one of
//! them gets a status. The controller's first reconciles start together,
//! possibly before its pod and Colony caches are filled; a wait that woke
//! only one of them once left the others asleep for good (15 of 16 in the
//! benchmark; `connection::caches` tests that wait deterministically).
//! Needs `cargo xtask cluster up`; fails when the cluster is not reachable.

mod support;

use std::time::Duration;

use anyhow::Result;
use coral_crds::Connection;
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

/// More than the controller's concurrency (16), so that the first batch
/// fills every slot.
const CONNECTIONS: usize = 40;

#[tokio::test]
async fn connections_present_at_start_all_get_a_status() -> Result<()> {
    support::in_fresh_namespaces("a0-burst", scenario).await
}

async fn scenario(client: &kube::Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let connections: Api<Connection> = Api::namespaced(client.clone(), namespace);
    for index in 0..CONNECTIONS {
        let connection: Connection = serde_json::from_value(json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
            "metadata": {"name": format!("c{index:02}")},
            "spec": {"colonyRef": {"name": "absent"}, "component": format!("part{index}"),
                     "selector": {"matchLabels": {"app": format!("part{index}")}}}
        }))?;
        connections
            .create(&PostParams::default(), &connection)
            .await?;
    }
    let operator = support::Operator::start(agent_namespace)?;
    let outcome = support::eventually(
        Duration::from_secs(60),
        "every Connection with a ColonyNotFound status",
        || {
            let connections = connections.clone();
            async move {
                let list = connections.list(&ListParams::default()).await?;
                let without: Vec<String> = list
                    .items
                    .iter()
                    .filter(|c| {
                        !c.status.as_ref().is_some_and(|s| {
                            s.conditions.iter().any(|c| c.reason == "ColonyNotFound")
                        })
                    })
                    .filter_map(|c| c.metadata.name.clone())
                    .collect();
                Ok((list.items.len() == CONNECTIONS && without.is_empty()).then_some(()))
            }
        },
    )
    .await;
    operator.stop()?;
    outcome
}
