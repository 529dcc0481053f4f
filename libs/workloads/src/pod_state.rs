//! Whether a pod counts, is ready, and how often its containers restarted.

use k8s_openapi::api::core::v1::Pod;

/// Pods that count: not finished and not being deleted.
pub fn is_live(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// The pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Restarts summed over the pod's containers.
pub fn restarts(pod: &Pod) -> u32 {
    pod.status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .map_or(0, |containers| {
            containers
                .iter()
                .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
                .fold(0, u32::saturating_add)
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    use super::*;

    fn pod(phase: &str, ready: &str, restarts: &[i32]) -> Pod {
        Pod {
            metadata: ObjectMeta::default(),
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..Default::default()
                }]),
                container_statuses: Some(
                    restarts
                        .iter()
                        .map(|&restart_count| ContainerStatus {
                            restart_count,
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn finished_and_deleted_pods_do_not_count() {
        assert!(is_live(&pod("Running", "True", &[])));
        assert!(is_live(&pod("Pending", "False", &[])));
        assert!(!is_live(&pod("Succeeded", "False", &[])));
        assert!(!is_live(&pod("Failed", "False", &[])));
        let mut deleted = pod("Running", "True", &[]);
        deleted.metadata.deletion_timestamp = Some(Time(Default::default()));
        assert!(!is_live(&deleted));
    }

    #[test]
    fn readiness_and_restarts() {
        assert!(is_ready(&pod("Running", "True", &[])));
        assert!(!is_ready(&pod("Running", "False", &[])));
        assert!(!is_ready(&Pod::default()));
        assert_eq!(restarts(&pod("Running", "True", &[2, 3])), 5);
        assert_eq!(restarts(&pod("Running", "True", &[-1])), 0);
        assert_eq!(restarts(&Pod::default()), 0);
    }
}
