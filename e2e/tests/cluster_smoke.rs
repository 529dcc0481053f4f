//! Proves the local cluster harness: workload controllers' pods are
//! scheduled to the fake nodes and reach Running with a pod IP, and deleting
//! the owner garbage-collects what it owns; PVCs bind to the pre-made
//! volumes of the default StorageClass.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use coral_e2e::{client, poll_until, unique_namespace};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// (pod, node, IP) of each Running pod with label `app=<app>`.
type Placement = Vec<(String, String, String)>;

async fn running_pods(pods: &Api<Pod>, app: &str, expected: usize) -> Result<Placement> {
    let placement = poll_until(
        &format!("{expected} Running pods of {app}"),
        TIMEOUT,
        || async {
            let list = pods
                .list(&ListParams::default().labels(&format!("app={app}")))
                .await?;
            let running: Placement = list
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
            Ok(if running.len() == expected {
                Ok(running)
            } else {
                Err(running)
            })
        },
    )
    .await?;
    for (pod, node, ip) in &placement {
        assert!(
            node.starts_with("coral-node-"),
            "pod {pod} runs on {node:?}, not a fake node"
        );
        assert!(
            ip.starts_with("10.244."),
            "pod {pod} has IP {ip:?}, outside the cluster CIDR"
        );
    }
    Ok(placement)
}

async fn pods_gone(pods: &Api<Pod>, app: &str) -> Result<()> {
    poll_until(&format!("pods of {app} to be deleted"), TIMEOUT, || async {
        let left = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await?
            .items
            .len();
        Ok(if left == 0 { Ok(()) } else { Err(left) })
    })
    .await
}

fn pod_template(app: &str) -> serde_json::Value {
    json!({
        "metadata": { "labels": { "app": app } },
        "spec": { "containers": [{ "name": app, "image": "registry.k8s.io/pause:3.10" }] }
    })
}

async fn delete_namespace(client: Client, ns: &str) -> Result<()> {
    Api::<Namespace>::all(client)
        .delete(ns, &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test]
async fn deployment_pods_run_on_fake_nodes_and_are_garbage_collected() -> Result<()> {
    let client = client().await?;
    let ns = unique_namespace(&client, "smoke-deploy").await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": pod_template("web"),
        }
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let placement = running_pods(&pods, "web", 2).await?;
    let ips: BTreeSet<_> = placement.iter().map(|(_, _, ip)| ip).collect();
    assert_eq!(ips.len(), 2, "each pod gets its own IP: {placement:?}");

    // Background propagation: the garbage collector removes the ReplicaSet,
    // then its pods.
    deployments
        .delete("web", &DeleteParams::background())
        .await?;
    pods_gone(&pods, "web").await?;
    delete_namespace(client, &ns).await
}

#[tokio::test]
async fn daemonset_runs_one_pod_on_every_fake_node() -> Result<()> {
    let client = client().await?;
    let ns = unique_namespace(&client, "smoke-ds").await?;
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    let daemonset: DaemonSet = serde_json::from_value(json!({
        "metadata": { "name": "agent" },
        "spec": {
            "selector": { "matchLabels": { "app": "agent" } },
            "template": pod_template("agent"),
        }
    }))?;
    daemonsets
        .create(&PostParams::default(), &daemonset)
        .await?;
    let placement = running_pods(&pods, "agent", 3).await?;
    let nodes: BTreeSet<_> = placement.iter().map(|(_, node, _)| node.as_str()).collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["coral-node-1", "coral-node-2", "coral-node-3"]),
        "one pod per node"
    );

    daemonsets
        .delete("agent", &DeleteParams::background())
        .await?;
    pods_gone(&pods, "agent").await?;
    delete_namespace(client, &ns).await
}

#[tokio::test]
async fn statefulset_pods_get_stable_names_and_run() -> Result<()> {
    let client = client().await?;
    let ns = unique_namespace(&client, "smoke-sts").await?;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);

    let statefulset: StatefulSet = serde_json::from_value(json!({
        "metadata": { "name": "db" },
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": { "matchLabels": { "app": "db" } },
            "template": pod_template("db"),
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": "1Gi" } }
                }
            }]
        }
    }))?;
    statefulsets
        .create(&PostParams::default(), &statefulset)
        .await?;
    let placement = running_pods(&pods, "db", 2).await?;
    let names: BTreeSet<_> = placement.iter().map(|(pod, _, _)| pod.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["db-0", "db-1"]));
    // The default StorageClass's pre-made volumes stand in for a provisioner.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    for claim in ["data-db-0", "data-db-1"] {
        let phase = claims
            .get(claim)
            .await?
            .status
            .and_then(|s| s.phase)
            .unwrap_or_default();
        assert_eq!(phase, "Bound", "PVC {claim}");
    }

    statefulsets
        .delete("db", &DeleteParams::background())
        .await?;
    pods_gone(&pods, "db").await?;
    delete_namespace(client, &ns).await
}
