//! Reef against the local cluster with the operator binary: a missing
//! ClickHouse Secret is a condition; once it exists the reef's children are
//! created, owned, and Ready; a public endpoint adds an Ingress; deletion
//! garbage-collects everything. Needs `cargo xtask cluster up`.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use coral_crds::Reef;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn reef_lifecycle_with_operator() -> Result<()> {
    support::in_fresh_namespaces("reef", scenario).await
}

fn ready_reason(reef: &Reef) -> Option<(String, String)> {
    reef.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

async fn scenario(client: &Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let operator = support::Operator::start(agent_namespace)?;
    let reefs: Api<Reef> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), namespace);

    let reef: Reef = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Reef", "metadata": {"name": "global"},
        "spec": {"clickhouse": {"secretRef": {"name": "clickhouse"}}}
    }))?;
    reefs.create(&PostParams::default(), &reef).await?;
    support::eventually(
        Duration::from_secs(30),
        "Reef reports ClickHouseSecretNotFound",
        || {
            let reefs = reefs.clone();
            async move {
                Ok(ready_reason(&reefs.get("global").await?)
                    .filter(|(_, r)| r == "ClickHouseSecretNotFound"))
            }
        },
    )
    .await?;

    let clickhouse: Secret = serde_json::from_value(json!({
        "metadata": {"name": "clickhouse"},
        "stringData": {"url": "http://clickhouse:8123", "user": "coral", "password": "secret"}
    }))?;
    secrets.create(&PostParams::default(), &clickhouse).await?;
    let ready = support::eventually(Duration::from_secs(90), "Reef Ready=True", || {
        let reefs = reefs.clone();
        async move {
            let reef = reefs.get("global").await?;
            Ok((ready_reason(&reef).map(|(s, _)| s).as_deref() == Some("True")).then_some(reef))
        }
    })
    .await?;
    let uid = ready.uid().context("reef uid")?;
    for (kind, owners) in [
        (
            "Deployment",
            deployments
                .get("global-reef")
                .await?
                .owner_references()
                .to_vec(),
        ),
        (
            "Secret",
            secrets
                .get("global-reef-signing-key")
                .await?
                .owner_references()
                .to_vec(),
        ),
    ] {
        ensure!(
            owners.iter().any(|o| o.uid == uid),
            "{kind} is not owned by the Reef"
        );
    }

    // A fresh operator's full resync of the unchanged Reef writes nothing.
    operator.stop()?;
    let operator = support::Operator::start(agent_namespace)?;
    support::eventually(
        Duration::from_secs(30),
        "restarted operator reconciled the Reef",
        || {
            let operator = &operator;
            async move { Ok((operator.reconciles("reef").await? >= 1).then_some(())) }
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = operator.writes().await?;
    ensure!(
        writes == 0,
        "a resync of an unchanged Reef made {writes} writes"
    );

    reefs
        .patch(
            "global",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"publicEndpoint": {"host": "reef.example.com"}}})),
        )
        .await?;
    support::eventually(
        Duration::from_secs(30),
        "Ingress for the public endpoint",
        || {
            let ingresses = ingresses.clone();
            async move { Ok(ingresses.get_opt("global-reef").await?.map(|_| ())) }
        },
    )
    .await?;
    support::eventually(
        Duration::from_secs(30),
        "status endpoint is the public host",
        || {
            let reefs = reefs.clone();
            async move {
                let status = reefs.get("global").await?.status.unwrap_or_default();
                Ok((status.endpoint.as_deref() == Some("https://reef.example.com")).then_some(()))
            }
        },
    )
    .await?;

    reefs.delete("global", &DeleteParams::foreground()).await?;
    support::eventually(
        Duration::from_secs(60),
        "reef children garbage-collected",
        || {
            let (deployments, ingresses, secrets) =
                (deployments.clone(), ingresses.clone(), secrets.clone());
            async move {
                let gone = deployments.get_opt("global-reef").await?.is_none()
                    && ingresses.get_opt("global-reef").await?.is_none()
                    && secrets.get_opt("global-reef-signing-key").await?.is_none();
                Ok(gone.then_some(()))
            }
        },
    )
    .await?;
    operator.stop()?;
    Ok(())
}
