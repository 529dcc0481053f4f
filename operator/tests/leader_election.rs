//! Two operator replicas: only the Lease holder writes; when it stops, the
//! standby takes over. Needs `cargo xtask cluster up`; fails when the
//! cluster is not reachable.

mod support;

use std::time::Duration;

use anyhow::{Result, ensure};
use coral_crds::Colony;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over() -> Result<()> {
    support::in_fresh_namespaces("leader", scenario).await
}

async fn scenario(client: &Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let first = support::Operator::start(agent_namespace)?;
    let second = support::Operator::start(agent_namespace)?;
    let colonies: Api<Colony> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let colony: Colony = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
        "metadata": {"name": "lead"}, "spec": {"application": "lead", "environment": "e2e"}
    }))?;
    colonies.create(&PostParams::default(), &colony).await?;
    support::eventually(Duration::from_secs(60), "Colony lead has a status", || {
        let colonies = colonies.clone();
        async move {
            Ok(colonies
                .get("lead")
                .await?
                .status
                .filter(|s| !s.conditions.is_empty())
                .map(|_| ()))
        }
    })
    .await?;
    let (first_writes, second_writes) = (first.writes().await?, second.writes().await?);
    ensure!(
        (first_writes > 0) != (second_writes > 0),
        "exactly one replica may write: first made {first_writes}, second {second_writes}"
    );
    let (leader, standby) = if first_writes > 0 {
        (first, second)
    } else {
        (second, first)
    };
    leader.stop()?;

    colonies
        .patch(
            "lead",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"retention": {"flowDays": 30}}})),
        )
        .await?;
    support::eventually(
        Duration::from_secs(60),
        "standby took over and applied the change",
        || {
            let config_maps = config_maps.clone();
            async move {
                let text = config_maps
                    .get("lead-colony-config")
                    .await?
                    .data
                    .unwrap_or_default()
                    .remove("colony.yaml");
                Ok(text.filter(|t| t.contains("flowDays: 30")).map(|_| ()))
            }
        },
    )
    .await?;
    ensure!(
        standby.writes().await? > 0,
        "the change was applied, but not by the standby"
    );
    standby.stop()?;
    Ok(())
}
