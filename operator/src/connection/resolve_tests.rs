use super::*;
use coral_crds::ConnectionSpec;
use k8s_openapi::api::core::v1::PodStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

fn connection() -> Connection {
    let spec: ConnectionSpec = serde_json::from_value(serde_json::json!({
        "colonyRef": {"name": "shop"}, "component": "api",
        "selector": {"matchLabels": {"app": "api"}}
    }))
    .unwrap();
    let mut connection = Connection::new("api", spec);
    connection.metadata.generation = Some(1);
    connection
}

fn pod(name: &str, owner_kind: &str, owner: &str, hash: Option<&str>, phase: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.into());
    pod.metadata.owner_references = Some(vec![OwnerReference {
        kind: owner_kind.into(),
        name: owner.into(),
        controller: Some(true),
        ..Default::default()
    }]);
    if let Some(hash) = hash {
        pod.metadata.labels = Some([("pod-template-hash".to_string(), hash.to_string())].into());
    }
    pod.status = Some(PodStatus {
        phase: Some(phase.into()),
        ..Default::default()
    });
    pod
}

fn now() -> Time {
    Time(Timestamp::from_second(1000).unwrap())
}

#[test]
fn pods_and_workloads_are_listed_sorted_and_finished_pods_skipped() {
    let pods = vec![
        pod(
            "api-7d9f-b",
            "ReplicaSet",
            "api-7d9f",
            Some("7d9f"),
            "Running",
        ),
        pod(
            "api-7d9f-a",
            "ReplicaSet",
            "api-7d9f",
            Some("7d9f"),
            "Running",
        ),
        pod("db-0", "StatefulSet", "db", None, "Running"),
        pod("job-x", "Job", "migrate", None, "Succeeded"),
    ];
    let status = build_status(&connection(), &Resolution::Pods(pods), &now());
    assert_eq!(status.matched_pods, 3);
    assert_eq!(status.pods, vec!["api-7d9f-a", "api-7d9f-b", "db-0"]);
    assert_eq!(status.workloads, vec!["Deployment/api", "StatefulSet/db"]);
    assert_eq!(status.conditions[0].reason, "Resolved");
    assert_eq!(status.conditions[0].status, "True");
}

#[test]
fn no_pods_and_missing_colony_have_their_own_reasons() {
    let status = build_status(&connection(), &Resolution::Pods(vec![]), &now());
    assert_eq!(
        (
            status.conditions[0].status.as_str(),
            status.conditions[0].reason.as_str()
        ),
        ("False", "NoMatchingPods")
    );
    let status = build_status(
        &connection(),
        &Resolution::ColonyNotFound("apps".into()),
        &now(),
    );
    assert_eq!(status.conditions[0].reason, "ColonyNotFound");
    assert!(status.conditions[0].message.contains("spec.colonyRef.name"));
}

#[test]
fn replicaset_without_hash_label_is_reported_as_is() {
    assert_eq!(
        workload_label(&pod("p", "ReplicaSet", "rs", None, "Running")),
        "ReplicaSet/rs"
    );
}
