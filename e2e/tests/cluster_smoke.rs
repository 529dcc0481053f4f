//! Proves the local cluster harness: a Deployment's pods are scheduled to the
//! fake nodes and reach Running, and deleting the Deployment garbage-collects
//! its ReplicaSet and pods.

use std::time::Duration;

use anyhow::Result;
use coral_e2e::{client, poll_until, unique_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

#[tokio::test]
async fn deployment_pods_run_on_fake_nodes_and_are_garbage_collected() -> Result<()> {
    let client = client().await?;
    let ns = unique_namespace(&client, "smoke").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "registry.k8s.io/pause:3.10" }] }
            }
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;

    let running = poll_until(
        "2 Running pods of deployment web",
        Duration::from_secs(60),
        || async {
            let list = pods.list(&ListParams::default().labels("app=web")).await?;
            let running: Vec<(String, String, String)> = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .map(|p| {
                    let node = p
                        .spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_default();
                    let ip = p
                        .status
                        .as_ref()
                        .and_then(|s| s.pod_ip.clone())
                        .unwrap_or_default();
                    (p.metadata.name.clone().unwrap_or_default(), node, ip)
                })
                .collect();
            Ok(if running.len() == 2 {
                Ok(running)
            } else {
                Err(running)
            })
        },
    )
    .await?;
    for (pod, node, ip) in &running {
        assert!(
            node.starts_with("coral-node-"),
            "pod {pod} runs on {node:?}, not a fake node"
        );
        assert!(
            ip.starts_with("10.244."),
            "pod {pod} has IP {ip:?}, outside the cluster CIDR"
        );
    }

    deployments
        .delete("web", &DeleteParams::background())
        .await?;
    poll_until(
        "pods of deployment web to be deleted",
        Duration::from_secs(60),
        || async {
            let left = pods
                .list(&ListParams::default().labels("app=web"))
                .await?
                .items
                .len();
            Ok(if left == 0 { Ok(()) } else { Err(left) })
        },
    )
    .await?;

    Api::<Namespace>::all(client)
        .delete(&ns, &DeleteParams::default())
        .await?;
    Ok(())
}
