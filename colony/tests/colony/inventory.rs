//! The component inventory against the local cluster: a Deployment selected
//! by a Connection becomes a component with its version and pods; a new
//! image and a new replica count become `deploy` and `scaled` events; a
//! deleted Connection removes the component.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use serde_json::{Value, json};

use crate::support::Colony;

const COLONY: &str = "shop-prod";

#[tokio::test]
async fn deployments_selected_by_connections_become_components_and_events() -> Result<()> {
    let client = coral_e2e::client().await?;
    coral_e2e::install_crds(&client).await?;
    let namespace = coral_e2e::unique_namespace(&client, "inventory").await?;
    let result = run(&client, &namespace).await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&namespace, &DeleteParams::default())
        .await;
    result
}

async fn run(client: &kube::Client, namespace: &str) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    deployments
        .create(&PostParams::default(), &deployment("shop/api:2.1.0", 2)?)
        .await?;
    let (resource, _) = pinned_kind(
        client,
        &GroupVersionKind::gvk("coral.io", "v1alpha1", "Connection"),
    )
    .await?;
    let connections: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource);
    let connection: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": { "name": "api" },
        "spec": {
            "colonyRef": { "name": COLONY },
            "component": "api",
            "selector": { "matchLabels": { "app": "api" } },
            "ports": [{ "port": 8080 }],
        },
    }))?;
    connections
        .create(&PostParams::default(), &connection)
        .await?;

    let dir = tempfile::tempdir()?;
    let target = format!("{namespace}/{COLONY}");
    let colony = Colony::start_with(
        dir.path(),
        &["--kubernetes-colony", &target, "--inventory-interval", "1"],
    );
    let seen = wait_for_api(&colony, |api| {
        api["pods"] == 2 && api["readyPods"] == 2 && api["version"] == "2.1.0"
    })
    .await?;
    assert_eq!(seen["kind"], "Deployment", "{seen:#}");
    assert_eq!(seen["status"], "up", "{seen:#}");
    assert_eq!(seen["ports"], json!([8080]), "{seen:#}");

    // A new image rolls out: the version follows, and a deploy event says so.
    let patch = json!({ "spec": {
        "replicas": 3,
        "template": { "spec": { "containers": [{ "name": "api", "image": "shop/api:2.2.0" }] } },
    }});
    deployments
        .patch("api", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    wait_for_api(&colony, |api| api["version"] == "2.2.0" && api["pods"] == 3).await?;
    let (_, events) = colony
        .colony(
            "ListEvents",
            &json!({ "windowSeconds": "3600", "component": "api" }),
        )
        .await;
    let messages: Vec<(&str, &str)> = events["events"]
        .as_array()
        .context("events")?
        .iter()
        .filter_map(|e| Some((e["kind"].as_str()?, e["message"].as_str()?)))
        .collect();
    assert!(
        messages.contains(&("deploy", "api 2.1.0 → 2.2.0")),
        "{events:#}"
    );
    assert!(
        messages.contains(&("scaled", "api scaled from 2 to 3 replicas")),
        "{events:#}"
    );

    // The Connection goes: so does the component.
    connections.delete("api", &DeleteParams::default()).await?;
    coral_e2e::poll_until(
        "the component to be removed",
        Duration::from_secs(30),
        || async {
            let components = list_components(&colony).await;
            Ok(if components.is_empty() {
                Ok(())
            } else {
                Err(components)
            })
        },
    )
    .await?;
    Ok(())
}

async fn list_components(colony: &Colony) -> Vec<Value> {
    let (_, body) = colony.colony("ListComponents", &json!({})).await;
    body["components"].as_array().cloned().unwrap_or_default()
}

/// Polls `ListComponents` until component `api` satisfies `done`.
async fn wait_for_api(colony: &Colony, done: impl Fn(&Value) -> bool) -> Result<Value> {
    coral_e2e::poll_until("component api", Duration::from_secs(60), || async {
        let components = list_components(colony).await;
        let api = components.iter().find(|c| c["name"] == "api").cloned();
        Ok(match api {
            Some(api) if done(&api) => Ok(api),
            _ => Err(components),
        })
    })
    .await
}

fn deployment(image: &str, replicas: i32) -> Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": "api" },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": "api" } },
            "template": {
                "metadata": { "labels": { "app": "api" } },
                "spec": { "containers": [{ "name": "api", "image": image }] },
            },
        },
    }))?)
}
