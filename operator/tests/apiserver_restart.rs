//! The operator rides through an apiserver restart: its watches reconnect,
//! it keeps (or wins back) the leader Lease, and objects created after the
//! restart are reconciled, without the process exiting.
//! Needs `cargo xtask cluster up`; fails when the cluster is not reachable.

mod support;

use std::time::Duration;

use anyhow::{Result, ensure};
use coral_crds::Connection;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

#[tokio::test]
async fn operator_reconciles_again_after_the_apiserver_restarts() -> Result<()> {
    support::in_fresh_namespaces("restart", scenario).await
}

async fn scenario(client: &kube::Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let mut operator = support::Operator::start(agent_namespace)?;
    let connections: Api<Connection> = Api::namespaced(client.clone(), namespace);
    create_connection(&connections, "before").await?;
    wait_for_status(&connections, "before").await?;

    coral_e2e::restart_apiserver()?;
    support::eventually(
        Duration::from_secs(120),
        "the restarted apiserver to answer",
        || async { Ok(support::client().await.ok()) },
    )
    .await?;

    create_connection(&connections, "after").await?;
    wait_for_status(&connections, "after").await?;
    ensure!(
        operator.is_running(),
        "the operator exited during the apiserver restart"
    );
    operator.stop()
}

async fn create_connection(api: &Api<Connection>, name: &str) -> Result<()> {
    let connection: Connection = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": {"name": name},
        "spec": {"colonyRef": {"name": "absent"}, "component": name,
                 "selector": {"matchLabels": {"app": name}}}
    }))?;
    api.create(&PostParams::default(), &connection).await?;
    Ok(())
}

/// The operator reconciled it: status says the Colony does not exist.
async fn wait_for_status(api: &Api<Connection>, name: &str) -> Result<()> {
    support::eventually(
        Duration::from_secs(120),
        &format!("Connection {name} reconciled (ColonyNotFound)"),
        || async {
            let status = api.get(name).await?.status.unwrap_or_default();
            Ok(status
                .conditions
                .iter()
                .any(|c| c.reason == "ColonyNotFound")
                .then_some(()))
        },
    )
    .await
}
