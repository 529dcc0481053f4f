//! The component inventory against the local cluster: a Deployment selected
//! by a Connection becomes a component with its version and pods; a new
//! image and a new replica count become `deploy` and `scaled` events; a
//! rollout and an OOM kill while the colony is stopped are events once it is
//! back; a deleted Connection removes the component.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
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
    let messages = event_messages(&colony).await?;
    assert!(
        messages.contains(&("deploy".into(), "api 2.1.0 → 2.2.0".into())),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&("scaled".into(), "api scaled from 2 to 3 replicas".into())),
        "{messages:#?}"
    );

    // While the colony is stopped, 2.3.0 rolls out and a new pod is OOM
    // killed: both are events once it is back.
    colony.stop();
    let patch = json!({ "spec": { "template": { "spec": {
        "containers": [{ "name": "api", "image": "shop/api:2.3.0" }],
    } } } });
    deployments
        .patch("api", &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let rolled = coral_e2e::poll_until("the 2.3.0 rollout", Duration::from_secs(60), || async {
        let listed = pods.list(&ListParams::default().labels("app=api")).await?;
        let running: Vec<Pod> = listed
            .items
            .into_iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .collect();
        let all_new = running.len() == 3
            && running.iter().all(|pod| {
                pod.spec.as_ref().is_some_and(|spec| {
                    spec.containers[0].image.as_deref() == Some("shop/api:2.3.0")
                }) && pod
                    .status
                    .as_ref()
                    .and_then(|status| status.container_statuses.as_ref())
                    .is_some_and(|statuses| !statuses.is_empty())
            });
        anyhow::Ok(if all_new {
            Ok(running)
        } else {
            Err(running.len())
        })
    })
    .await?;
    let victim = rolled[0].metadata.name.clone().context("pod name")?;
    oom_kill(&pods, &rolled[0]).await?;
    let colony = Colony::start_with(
        dir.path(),
        &["--kubernetes-colony", &target, "--inventory-interval", "1"],
    );
    wait_for_api(&colony, |api| api["version"] == "2.3.0").await?;
    let messages = event_messages(&colony).await?;
    assert!(
        messages.contains(&(
            "deploy".into(),
            "api 2.2.0 → 2.3.0 (while the colony was down)".into()
        )),
        "{messages:#?}"
    );
    assert!(
        messages.contains(&(
            "oom_killed".into(),
            format!("{victim} container api restarted: OOMKilled (exit code 137)")
        )),
        "{messages:#?}"
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

/// `(kind, message)` of component api's events in the last hour.
async fn event_messages(colony: &Colony) -> Result<Vec<(String, String)>> {
    let (_, events) = colony
        .colony(
            "ListEvents",
            &json!({ "windowSeconds": "3600", "component": "api" }),
        )
        .await;
    Ok(events["events"]
        .as_array()
        .context("events")?
        .iter()
        .filter_map(|e| {
            Some((
                e["kind"].as_str()?.to_owned(),
                e["message"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// What the kubelet reports after an OOM kill: one restart, the last run
/// ended `OOMKilled` with exit code 137 just now.
async fn oom_kill(pods: &Api<Pod>, pod: &Pod) -> Result<()> {
    let mut statuses = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.clone())
        .context("container statuses")?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let mut status = serde_json::to_value(&statuses[0])?;
    status["restartCount"] = json!(1);
    status["lastState"] = json!({ "terminated": {
        "exitCode": 137, "reason": "OOMKilled",
        "startedAt": (now - k8s_openapi::jiff::SignedDuration::from_secs(60)).to_string(),
        "finishedAt": now.to_string(),
    } });
    statuses[0] = serde_json::from_value(status)?;
    let name = pod.metadata.name.as_deref().context("pod name")?;
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": { "containerStatuses": statuses } })),
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
