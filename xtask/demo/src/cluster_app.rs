//! The demo app as the cluster sees it: its workloads are pinned to the one
//! node whose agent runs for real, and its pods and Services are read back
//! (pod IPs from kwok, ClusterIPs from the API server).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{Context, Result};
use coral_e2e::poll_until;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::app::TIERS;

const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);

/// A Running pod of the demo app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPod {
    pub name: String,
    pub app: String,
    pub ip: Ipv4Addr,
}

/// Every tier's workload (a Deployment or StatefulSet named after it) gets
/// a node selector for `node`: the demo runs real processes for one node's
/// pods, because one machine runs one node-agent with one mesh link.
pub async fn pin_to_node(client: &Client, namespace: &str, node: &str) -> Result<()> {
    let patch = json!({"spec": {"template": {"spec": {
        "nodeSelector": {"kubernetes.io/hostname": node}
    }}}});
    let params = PatchParams::default();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    for tier in &TIERS {
        if deployments.get_opt(tier.app).await?.is_some() {
            deployments
                .patch(tier.app, &params, &Patch::Strategic(&patch))
                .await?;
        } else if stateful_sets.get_opt(tier.app).await?.is_some() {
            stateful_sets
                .patch(tier.app, &params, &Patch::Strategic(&patch))
                .await?;
        } else {
            anyhow::bail!(
                "namespace {namespace} has no Deployment or StatefulSet `{}`; apply examples/demo first",
                tier.app
            );
        }
    }
    Ok(())
}

/// Waits until each tier has as many Running pods on `node`, with IPs, as
/// its workload wants, and no pods elsewhere; returns them.
pub async fn running_pods(client: &Client, namespace: &str, node: &str) -> Result<Vec<AppPod>> {
    let wanted = wanted_replicas(client, namespace).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!(
        "app in ({})",
        TIERS.iter().map(|t| t.app).collect::<Vec<_>>().join(",")
    );
    let what = format!("the demo app's pods to run on {node}");
    poll_until(&what, ROLLOUT_TIMEOUT, || {
        let (pods, selector, wanted) = (pods.clone(), selector.clone(), wanted.clone());
        async move {
            let listed = pods.list(&ListParams::default().labels(&selector)).await?;
            anyhow::Ok(settled(&listed.items, node, &wanted))
        }
    })
    .await
}

/// The pods when every tier has exactly its replicas Running on `node`;
/// otherwise what is still missing.
fn settled(
    pods: &[Pod],
    node: &str,
    wanted: &BTreeMap<String, usize>,
) -> Result<Vec<AppPod>, String> {
    let mut ready = Vec::new();
    for pod in pods {
        let app = pod.labels().get("app").cloned().unwrap_or_default();
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
        let status = pod.status.as_ref();
        let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
        let ip = status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok());
        match ip {
            Some(ip) if on_node && running && pod.metadata.deletion_timestamp.is_none() => ready
                .push(AppPod {
                    name: pod.name_any(),
                    app,
                    ip,
                }),
            _ => return Err(format!("pod {} not yet Running on {node}", pod.name_any())),
        }
    }
    for (app, count) in wanted {
        let have = ready.iter().filter(|p| &p.app == app).count();
        if have != *count {
            return Err(format!("{app}: {have} of {count} pods"));
        }
    }
    ready.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ready)
}

async fn wanted_replicas(client: &Client, namespace: &str) -> Result<BTreeMap<String, usize>> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let mut wanted = BTreeMap::new();
    for tier in &TIERS {
        let replicas = match deployments.get_opt(tier.app).await? {
            Some(d) => d.spec.replicas,
            None => stateful_sets
                .get_opt(tier.app)
                .await?
                .and_then(|s| s.spec.replicas),
        };
        wanted.insert(
            tier.app.to_owned(),
            usize::try_from(replicas.unwrap_or(1)).unwrap_or(0),
        );
    }
    Ok(wanted)
}

/// Each tier's Service ClusterIP.
pub async fn cluster_ips(client: &Client, namespace: &str) -> Result<BTreeMap<String, Ipv4Addr>> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let mut ips = BTreeMap::new();
    for tier in &TIERS {
        let service = services.get_opt(tier.app).await?.with_context(|| {
            format!(
                "namespace {namespace} has no Service `{}`; apply examples/demo",
                tier.app
            )
        })?;
        let ip = service
            .spec
            .and_then(|s| s.cluster_ip)
            .and_then(|ip| ip.parse().ok())
            .with_context(|| format!("Service {} has no IPv4 ClusterIP", tier.app))?;
        ips.insert(tier.app.to_owned(), ip);
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, app: &str, node: &str, phase: &str, ip: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "podIP": ip},
        }))
        .unwrap()
    }

    #[test]
    fn settles_only_when_every_tier_runs_on_the_node() {
        let wanted = BTreeMap::from([("api".to_owned(), 2), ("database".to_owned(), 1)]);
        let good = [
            pod("api-1", "api", "n1", "Running", Some("10.244.0.5")),
            pod("api-2", "api", "n1", "Running", Some("10.244.0.6")),
            pod(
                "database-0",
                "database",
                "n1",
                "Running",
                Some("10.244.0.7"),
            ),
        ];
        assert_eq!(settled(&good, "n1", &wanted).unwrap().len(), 3);

        let elsewhere = [
            good[0].clone(),
            good[1].clone(),
            pod(
                "database-0",
                "database",
                "n2",
                "Running",
                Some("10.244.1.7"),
            ),
        ];
        assert!(settled(&elsewhere, "n1", &wanted).is_err());
        let pending = [
            good[0].clone(),
            good[1].clone(),
            pod("database-0", "database", "n1", "Pending", None),
        ];
        assert!(settled(&pending, "n1", &wanted).is_err());
        assert!(settled(&good[..2], "n1", &wanted).is_err());
    }
}
