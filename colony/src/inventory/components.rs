//! From Kubernetes objects to components: what the colony's Connections
//! select, and how those pods are doing. Pure, so unit-tested without a
//! cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use coral_crds::Connection;
use coral_workloads::{image_version, is_live, is_ready, kind, owner_workload};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;

use crate::store::ComponentRecord;

/// What the watches hold, all in the colony's namespace.
#[derive(Default)]
pub struct ClusterState {
    pub connections: Vec<Arc<Connection>>,
    pub pods: Vec<Arc<Pod>>,
    pub deployments: Vec<Arc<Deployment>>,
    pub stateful_sets: Vec<Arc<StatefulSet>>,
    pub daemon_sets: Vec<Arc<DaemonSet>>,
}

/// One component as seen now: its inventory row, and what events are
/// derived from when it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub record: ComponentRecord,
    /// Replicas the workload asks for, when the workload is known.
    pub desired_replicas: Option<u32>,
    /// Per `(pod, container)`: restarts so far and how the last run ended.
    pub containers: BTreeMap<(String, String), ContainerRuns>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ContainerRuns {
    pub restarts: u32,
    /// `OOMKilled`, `Error` …, from `lastState.terminated`.
    pub last_reason: String,
    pub last_exit_code: i32,
    /// Unix seconds, 0 when unknown.
    pub last_finished_at: i64,
}

/// The components of Colony `colony`, keyed by `(namespace, component)`.
pub fn observe(
    state: &ClusterState,
    colony: &str,
    now: i64,
) -> BTreeMap<(String, String), Observed> {
    let mut components = BTreeMap::new();
    for connection in &state.connections {
        if connection.spec.colony_ref.name != colony
            || connection.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let namespace = connection.namespace().unwrap_or_default();
        let pods = selected_pods(connection, &state.pods);
        let workload = workload_of(connection, &pods);
        let template = workload
            .as_ref()
            .and_then(|(name, kind)| template_of(state, &namespace, name, kind));
        let observed = summarize(connection, &namespace, &pods, workload, template, now);
        components.insert((namespace, connection.spec.component.clone()), observed);
    }
    components
}

/// Live pods the Connection selects.
fn selected_pods<'a>(connection: &Connection, pods: &'a [Arc<Pod>]) -> Vec<&'a Pod> {
    let matcher = connection.pod_matcher();
    pods.iter()
        .map(Arc::as_ref)
        .filter(|pod| is_live(pod) && matcher.matches(pod))
        .collect()
}

/// `(name, kind)` of the component's workload: the Connection's reference,
/// else the owner of its first pod (by name, so the choice is stable).
fn workload_of(connection: &Connection, pods: &[&Pod]) -> Option<(String, String)> {
    if let Some(reference) = &connection.spec.workload_ref {
        return Some((reference.name.clone(), reference.kind.as_str().to_owned()));
    }
    pods.iter()
        .min_by_key(|pod| pod.name_any())
        .map(|pod| owner_workload(pod))
}

/// The pod template and desired replicas of a workload the watches hold.
fn template_of<'a>(
    state: &'a ClusterState,
    namespace: &str,
    name: &str,
    kind: &str,
) -> Option<(&'a PodTemplateSpec, Option<u32>)> {
    let here = |meta: &kube::core::ObjectMeta| {
        meta.name.as_deref() == Some(name) && meta.namespace.as_deref() == Some(namespace)
    };
    let replicas = |n: Option<i32>| u32::try_from(n.unwrap_or(1)).ok();
    match kind {
        kind::DEPLOYMENT => state
            .deployments
            .iter()
            .find(|d| here(&d.metadata))
            .map(|d| (&d.spec.template, replicas(d.spec.replicas))),
        kind::STATEFUL_SET => state
            .stateful_sets
            .iter()
            .find(|s| here(&s.metadata))
            .map(|s| (&s.spec.template, replicas(s.spec.replicas))),
        kind::DAEMON_SET => state
            .daemon_sets
            .iter()
            .find(|d| here(&d.metadata))
            .map(|d| {
                let desired = d
                    .status
                    .as_ref()
                    .and_then(|s| u32::try_from(s.desired_number_scheduled).ok());
                (&d.spec.template, desired)
            }),
        _ => None,
    }
}

fn summarize(
    connection: &Connection,
    namespace: &str,
    pods: &[&Pod],
    workload: Option<(String, String)>,
    template: Option<(&PodTemplateSpec, Option<u32>)>,
    now: i64,
) -> Observed {
    let ready = pods.iter().filter(|pod| is_ready(pod)).count();
    let status = match (pods.len(), ready) {
        (0, _) | (_, 0) => "down",
        (all, ready) if ready < all => "degraded",
        _ => "up",
    };
    // The deployed version is the template's; without a known workload,
    // the newest pod's.
    let image = template
        .and_then(|(template, _)| first_image(template.spec.as_ref()?.containers.first()?))
        .or_else(|| {
            let newest = pods.iter().max_by_key(|pod| pod.creation_timestamp())?;
            first_image(newest.spec.as_ref()?.containers.first()?)
        });
    let started_at = pods
        .iter()
        .filter_map(|pod| pod.status.as_ref()?.start_time.as_ref())
        .map(|time| time.0.as_second())
        .min()
        .unwrap_or(0);
    let mut ports: Vec<u32> = connection
        .spec
        .ports
        .iter()
        .filter_map(|port| u32::try_from(port.port).ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    Observed {
        record: ComponentRecord {
            namespace: namespace.to_owned(),
            name: connection.spec.component.clone(),
            kind: workload.map(|(_, kind)| kind).unwrap_or_default(),
            version: image.as_deref().map(image_version).unwrap_or_default(),
            pods: count(pods.len()),
            ready_pods: count(ready),
            restarts: pods
                .iter()
                .map(|pod| coral_workloads::restarts(pod))
                .fold(0, u32::saturating_add),
            status: status.to_owned(),
            started_at,
            ports,
            updated_at: now,
        },
        desired_replicas: template.and_then(|(_, desired)| desired),
        containers: container_runs(pods),
    }
}

fn first_image(container: &k8s_openapi::api::core::v1::Container) -> Option<String> {
    container.image.clone().filter(|image| !image.is_empty())
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn container_runs(pods: &[&Pod]) -> BTreeMap<(String, String), ContainerRuns> {
    let mut runs = BTreeMap::new();
    for pod in pods {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|status| status.container_statuses.as_ref());
        for container in statuses.into_iter().flatten() {
            let terminated = container
                .last_state
                .as_ref()
                .and_then(|state| state.terminated.as_ref());
            runs.insert(
                (pod.name_any(), container.name.clone()),
                ContainerRuns {
                    restarts: u32::try_from(container.restart_count).unwrap_or(0),
                    last_reason: terminated
                        .and_then(|t| t.reason.clone())
                        .unwrap_or_default(),
                    last_exit_code: terminated.map_or(0, |t| t.exit_code),
                    last_finished_at: terminated
                        .and_then(|t| t.finished_at.as_ref())
                        .map_or(0, |time| time.0.as_second()),
                },
            );
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Arc<T> {
        Arc::new(serde_json::from_value(value).unwrap())
    }

    fn connection(component: &str, colony: &str, spec: serde_json::Value) -> Arc<Connection> {
        let mut spec = spec;
        spec["colonyRef"] = json!({ "name": colony });
        spec["component"] = json!(component);
        object(json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
            "metadata": { "name": component, "namespace": "shop" },
            "spec": spec,
        }))
    }

    /// A pod of Deployment `api` (ReplicaSet `api-5d8f`), with one container.
    fn api_pod(name: &str, image: &str, ready: bool, restarts: i32, started: &str) -> Arc<Pod> {
        object(json!({
            "metadata": {
                "name": name, "namespace": "shop",
                "labels": { "app": "api", "pod-template-hash": "5d8f" },
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "api-5d8f", "uid": "u", "controller": true }],
                "creationTimestamp": started,
            },
            "spec": { "containers": [{ "name": "api", "image": image }] },
            "status": {
                "phase": "Running",
                "startTime": started,
                "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }],
                "containerStatuses": [{
                    "name": "api", "image": image, "imageID": "", "ready": ready,
                    "restartCount": restarts,
                    "lastState": { "terminated": { "exitCode": 137, "reason": "OOMKilled",
                        "finishedAt": "2026-11-27T10:00:00Z" } },
                }],
            },
        }))
    }

    fn deployment(image: &str, replicas: i32) -> Arc<Deployment> {
        object(json!({
            "metadata": { "name": "api", "namespace": "shop" },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": { "app": "api" } },
                "template": { "spec": { "containers": [{ "name": "api", "image": image }] } },
            },
        }))
    }

    #[test]
    fn a_selected_deployment_becomes_a_component() {
        let state = ClusterState {
            connections: vec![
                connection(
                    "api",
                    "shop-prod",
                    json!({ "selector": { "matchLabels": { "app": "api" } },
                            "ports": [{ "port": 9090 }, { "port": 8080 }] }),
                ),
                // Another colony's Connection is not ours.
                connection(
                    "other",
                    "shop-dev",
                    json!({ "selector": { "matchLabels": { "app": "api" } } }),
                ),
            ],
            pods: vec![
                api_pod(
                    "api-5d8f-a",
                    "shop/api:2.1.0",
                    true,
                    1,
                    "2026-11-27T08:00:00Z",
                ),
                api_pod(
                    "api-5d8f-b",
                    "shop/api:2.1.0",
                    false,
                    2,
                    "2026-11-27T09:00:00Z",
                ),
            ],
            deployments: vec![deployment("shop/api:2.1.0", 3)],
            ..Default::default()
        };
        let components = observe(&state, "shop-prod", 5_000);
        assert_eq!(components.len(), 1);
        let api = &components[&("shop".to_owned(), "api".to_owned())];
        assert_eq!(
            api.record,
            ComponentRecord {
                namespace: "shop".into(),
                name: "api".into(),
                kind: "Deployment".into(),
                version: "2.1.0".into(),
                pods: 2,
                ready_pods: 1,
                restarts: 3,
                status: "degraded".into(),
                started_at: 1_795_766_400, // 2026-11-27T08:00:00Z
                ports: vec![8080, 9090],
                updated_at: 5_000,
            }
        );
        assert_eq!(api.desired_replicas, Some(3));
        let runs = &api.containers[&("api-5d8f-b".to_owned(), "api".to_owned())];
        assert_eq!((runs.restarts, runs.last_reason.as_str()), (2, "OOMKilled"));
        assert_eq!(runs.last_exit_code, 137);
    }

    #[test]
    fn workload_reference_and_no_pods() {
        let reference = json!({ "workloadRef": { "kind": "Deployment", "name": "api" } });
        let state = ClusterState {
            connections: vec![connection("api", "shop-prod", reference)],
            pods: vec![api_pod(
                "api-5d8f-a",
                "shop/api:2.0.0",
                true,
                0,
                "2026-11-27T08:00:00Z",
            )],
            // The template is the deployed version, even mid-rollout.
            deployments: vec![deployment("shop/api:2.1.0", 1)],
            ..Default::default()
        };
        let api = &observe(&state, "shop-prod", 0)[&("shop".to_owned(), "api".to_owned())];
        assert_eq!(
            (api.record.status.as_str(), api.record.version.as_str()),
            ("up", "2.1.0")
        );

        let nothing = ClusterState {
            connections: vec![connection(
                "db",
                "shop-prod",
                json!({ "selector": { "matchLabels": { "app": "db" } } }),
            )],
            ..Default::default()
        };
        let db = &observe(&nothing, "shop-prod", 0)[&("shop".to_owned(), "db".to_owned())];
        assert_eq!(db.record.status, "down");
        assert_eq!((db.record.pods, db.record.kind.as_str()), (0, ""));
    }
}
