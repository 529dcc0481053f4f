//! Colony status from what the reconcile observed. Pure.

use coral_crds::{Colony, ColonyStatus};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::desired::{endpoint, mesh_ipv4};
use crate::conditions::{self, ConditionState, DEGRADED, PROGRESSING, READY};

/// Shown for counts only the colony API knows while it is not reachable.
pub const UNKNOWN: &str = "Unknown";

/// Readiness of the colony's StatefulSet or Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadReadiness {
    pub ready: bool,
    pub message: String,
}

impl WorkloadReadiness {
    pub fn of_stateful_set(sts: &StatefulSet) -> Self {
        let wanted = sts.spec.replicas.unwrap_or(1);
        let status = sts.status.clone().unwrap_or_default();
        Self::from_counts(
            "StatefulSet",
            &sts.name_any(),
            sts.metadata.generation,
            status.observed_generation,
            wanted,
            status.ready_replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0),
        )
    }

    pub fn of_deployment(deployment: &Deployment) -> Self {
        let wanted = deployment.spec.replicas.unwrap_or(1);
        let status = deployment.status.clone().unwrap_or_default();
        Self::from_counts(
            "Deployment",
            &deployment.name_any(),
            deployment.metadata.generation,
            status.observed_generation,
            wanted,
            status.ready_replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0),
        )
    }

    fn from_counts(
        kind: &str,
        name: &str,
        generation: Option<i64>,
        observed: Option<i64>,
        wanted: i32,
        ready: i32,
        updated: i32,
    ) -> Self {
        if observed < generation {
            return Self {
                ready: false,
                message: format!("{kind} {name} has not observed its latest spec yet"),
            };
        }
        if ready >= wanted && updated >= wanted {
            Self {
                ready: true,
                message: format!("{kind} {name}: {ready}/{wanted} pods ready"),
            }
        } else {
            Self {
                ready: false,
                message: format!("{kind} {name}: {ready}/{wanted} pods ready, {updated} updated"),
            }
        }
    }
}

/// What a reconcile found; turned into conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Children applied; the workload is (not yet) ready.
    Applied(WorkloadReadiness),
    /// The keys Secret exists but is unusable; it is left untouched.
    KeySecretInvalid(String),
    /// An apply was refused (for example an immutable StatefulSet field).
    ApplyFailed(String),
}

pub fn build(
    colony: &Colony,
    public_key: Option<&str>,
    observation: &Observation,
    now: &Time,
) -> ColonyStatus {
    let existing = colony.status.clone().unwrap_or_default();
    let generation = colony.metadata.generation;
    let wanted = match observation {
        Observation::Applied(workload) if workload.ready => vec![
            ConditionState::new(READY, true, "Ready", workload.message.clone()),
            ConditionState::new(
                PROGRESSING,
                false,
                "Complete",
                "all children are up to date",
            ),
            ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
        ],
        Observation::Applied(workload) => vec![
            ConditionState::new(READY, false, "PodsNotReady", workload.message.clone()),
            ConditionState::new(PROGRESSING, true, "RollingOut", workload.message.clone()),
            ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
        ],
        Observation::KeySecretInvalid(message) => degraded("KeySecretInvalid", message),
        Observation::ApplyFailed(message) => degraded("ApplyFailed", message),
    };
    let namespace = colony.namespace().unwrap_or_default();
    ColonyStatus {
        conditions: conditions::merge(&existing.conditions, &wanted, generation, now),
        observed_generation: generation,
        endpoint: Some(endpoint(&colony.name_any(), &namespace)),
        mesh_public_key: public_key.map(str::to_string),
        mesh_ipv4: mesh_ipv4(&colony.spec.mesh.ipv4_cidr),
        // The colony API client is not written yet: report Unknown, never a guess.
        agents: Some(UNKNOWN.into()),
        components: Some(UNKNOWN.into()),
    }
}

fn degraded(reason: &'static str, message: &str) -> Vec<ConditionState> {
    vec![
        ConditionState::new(READY, false, reason, message),
        ConditionState::new(
            PROGRESSING,
            false,
            reason,
            "waiting for the problem to be fixed",
        ),
        ConditionState::new(DEGRADED, true, reason, message),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use coral_crds::ColonySpec;
    use k8s_openapi::api::apps::v1::{StatefulSetSpec, StatefulSetStatus};
    use k8s_openapi::jiff::Timestamp;

    fn colony() -> Colony {
        let spec: ColonySpec =
            serde_json::from_value(serde_json::json!({"application": "a", "environment": "b"}))
                .unwrap();
        let mut colony = Colony::new("c", spec);
        colony.metadata.namespace = Some("ns".into());
        colony.metadata.generation = Some(3);
        colony
    }

    fn sts(observed: i64, ready: i32) -> StatefulSet {
        let mut sts = StatefulSet {
            spec: StatefulSetSpec {
                replicas: Some(1),
                ..Default::default()
            },
            status: Some(StatefulSetStatus {
                observed_generation: Some(observed),
                ready_replicas: Some(ready),
                updated_replicas: Some(ready),
                ..Default::default()
            }),
            ..Default::default()
        };
        sts.metadata.generation = Some(2);
        sts.metadata.name = Some("c-colony".into());
        sts
    }

    fn condition<'a>(
        status: &'a ColonyStatus,
        type_: &str,
    ) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn ready_when_workload_ready() {
        let now = Time(Timestamp::from_second(100).unwrap());
        let readiness = WorkloadReadiness::of_stateful_set(&sts(2, 1));
        let status = build(
            &colony(),
            Some("pub"),
            &Observation::Applied(readiness),
            &now,
        );
        assert_eq!(condition(&status, READY).status, "True");
        assert_eq!(condition(&status, PROGRESSING).status, "False");
        assert_eq!(condition(&status, READY).observed_generation, Some(3));
        assert_eq!(status.mesh_public_key.as_deref(), Some("pub"));
        assert_eq!(status.mesh_ipv4.as_deref(), Some("10.42.0.1"));
        assert_eq!(status.agents.as_deref(), Some(UNKNOWN));
    }

    #[test]
    fn not_ready_while_pods_pending_or_spec_unobserved() {
        assert!(!WorkloadReadiness::of_stateful_set(&sts(2, 0)).ready);
        assert!(!WorkloadReadiness::of_stateful_set(&sts(1, 1)).ready);
        let now = Time(Timestamp::from_second(100).unwrap());
        let status = build(
            &colony(),
            None,
            &Observation::Applied(WorkloadReadiness::of_stateful_set(&sts(2, 0))),
            &now,
        );
        assert_eq!(condition(&status, READY).reason, "PodsNotReady");
        assert_eq!(condition(&status, PROGRESSING).status, "True");
    }

    #[test]
    fn same_observation_gives_identical_status() {
        let mut colony = colony();
        let observation = Observation::KeySecretInvalid("key \"privateKey\" is missing".into());
        let first = build(
            &colony,
            None,
            &observation,
            &Time(Timestamp::from_second(100).unwrap()),
        );
        colony.status = Some(first.clone());
        let second = build(
            &colony,
            None,
            &observation,
            &Time(Timestamp::from_second(200).unwrap()),
        );
        assert_eq!(first, second);
        assert_eq!(condition(&second, DEGRADED).status, "True");
    }
}
