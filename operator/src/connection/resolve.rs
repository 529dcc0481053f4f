//! Pure parts of resolving a Connection: which pods it matches, which
//! workloads own them, and the status that follows.

use std::collections::BTreeSet;

use coral_crds::{Connection, ConnectionStatus};
use coral_workloads::{is_live, owner_workload};
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

/// `Kind/name` of the workload owning a pod, as status lists it.
pub fn workload_label(pod: &Pod) -> String {
    let (name, kind) = owner_workload(pod);
    format!("{kind}/{name}")
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
            let workloads: BTreeSet<String> = live.iter().map(|pod| workload_label(pod)).collect();
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
