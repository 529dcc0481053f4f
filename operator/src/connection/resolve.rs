//! Pure parts of resolving a Connection: which pods it matches, which
//! workloads own them, and the status that follows.

use std::collections::BTreeSet;

use coral_crds::{Connection, ConnectionStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::conditions::{self, ConditionState, READY};

/// At most this many pod names are listed in status (the count is exact).
pub const MAX_LISTED_PODS: usize = 100;

/// Outcome of resolving a Connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    ColonyNotFound(String),
    WorkloadNotFound(String),
    InvalidSelector(String),
    Pods(Vec<Pod>),
}

/// Pods that count: not finished and not being deleted.
pub fn is_live(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// `Kind/name` of the workload owning a pod. A ReplicaSet created by a
/// Deployment is named `<deployment>-<pod-template-hash>`, so the Deployment
/// name is recovered without another API call.
pub fn owning_workload(pod: &Pod) -> Option<String> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    if owner.kind == "ReplicaSet"
        && let Some(hash) = pod.labels().get("pod-template-hash")
        && let Some(deployment) = owner.name.strip_suffix(&format!("-{hash}"))
    {
        return Some(format!("Deployment/{deployment}"));
    }
    Some(format!("{}/{}", owner.kind, owner.name))
}

pub fn build_status(
    connection: &Connection,
    resolution: &Resolution,
    now: &Time,
) -> ConnectionStatus {
    let existing = connection.status.clone().unwrap_or_default();
    let generation = connection.metadata.generation;
    let colony = &connection.spec.colony_ref.name;
    let (condition, pods, workloads) = match resolution {
        Resolution::ColonyNotFound(namespace) => (
            ConditionState::new(
                READY,
                false,
                "ColonyNotFound",
                format!(
                    "Colony {colony:?} does not exist in namespace {namespace:?}; create it or fix spec.colonyRef.name"
                ),
            ),
            Vec::new(),
            Vec::new(),
        ),
        Resolution::WorkloadNotFound(what) => (
            ConditionState::new(
                READY,
                false,
                "WorkloadNotFound",
                format!("{what} does not exist; create it or fix spec.workloadRef"),
            ),
            Vec::new(),
            Vec::new(),
        ),
        Resolution::InvalidSelector(problem) => (
            ConditionState::new(
                READY,
                false,
                "InvalidSelector",
                format!("the selector is not usable: {problem}"),
            ),
            Vec::new(),
            Vec::new(),
        ),
        Resolution::Pods(pods) => {
            let live: Vec<&Pod> = pods.iter().filter(|pod| is_live(pod)).collect();
            let names: BTreeSet<String> = live.iter().map(|pod| pod.name_any()).collect();
            let workloads: BTreeSet<String> =
                live.iter().filter_map(|pod| owning_workload(pod)).collect();
            let condition = if names.is_empty() {
                ConditionState::new(
                    READY,
                    false,
                    "NoMatchingPods",
                    "no running pods match the selector yet",
                )
            } else {
                ConditionState::new(
                    READY,
                    true,
                    "Resolved",
                    format!(
                        "{} pods in {} workloads observed by colony {colony:?}",
                        names.len(),
                        workloads.len()
                    ),
                )
            };
            (
                condition,
                names.into_iter().collect(),
                workloads.into_iter().collect(),
            )
        }
    };
    ConnectionStatus {
        conditions: conditions::merge(&existing.conditions, &[condition], generation, now),
        observed_generation: generation,
        matched_pods: i32::try_from(pods.len()).unwrap_or(i32::MAX),
        pods: pods.into_iter().take(MAX_LISTED_PODS).collect(),
        workloads,
        // Filled in once the colony reports traffic; kept as it was.
        last_traffic_seen: existing.last_traffic_seen,
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
