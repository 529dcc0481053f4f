//! Pod → owning workload, and Service selectors, from the objects alone.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::kind;

/// Label the Deployment controller puts on its ReplicaSets' pods; the
/// ReplicaSet is named `<deployment>-<hash>`.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// `(name, kind)` of the workload that owns `pod`: a Deployment through its
/// ReplicaSet, a StatefulSet, DaemonSet or Job, another controller by its own
/// kind, and a bare pod by its own name.
///
/// The Deployment is derived from the ReplicaSet's name and the pod's
/// `pod-template-hash` label, which the Deployment controller sets on both,
/// so the agent needs no ReplicaSet watch. A ReplicaSet not made by a
/// Deployment (no matching hash) is reported as itself.
pub fn owner_workload(pod: &Pod) -> (String, String) {
    let meta = &pod.metadata;
    let pod_name = meta.name.clone().unwrap_or_default();
    let Some(owner) = meta
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
    else {
        return (pod_name, kind::POD.to_owned());
    };
    if owner.kind == kind::REPLICA_SET {
        let hash = meta
            .labels
            .as_ref()
            .and_then(|labels| labels.get(POD_TEMPLATE_HASH));
        if let Some(deployment) = hash.and_then(|hash| {
            owner
                .name
                .strip_suffix(hash.as_str())
                .and_then(|rest| rest.strip_suffix('-'))
                .filter(|rest| !rest.is_empty())
        }) {
            return (deployment.to_owned(), kind::DEPLOYMENT.to_owned());
        }
    }
    (owner.name.clone(), owner.kind.clone())
}

/// Whether a Service selector selects a pod with `labels`. An empty selector
/// selects nothing (such Services have manually managed endpoints).
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    !selector.is_empty()
        && labels.is_some_and(|labels| {
            selector
                .iter()
                .all(|(key, value)| labels.get(key) == Some(value))
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;

    fn pod_owned_by(name: &str, owner: Option<(&str, &str)>, hash: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                labels: hash.map(|h| BTreeMap::from([(POD_TEMPLATE_HASH.into(), h.into())])),
                owner_references: owner.map(|(kind, name)| {
                    vec![OwnerReference {
                        api_version: "apps/v1".into(),
                        kind: kind.into(),
                        name: name.into(),
                        uid: "u".into(),
                        controller: Some(true),
                        block_owner_deletion: None,
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn owner(pod: &Pod) -> (String, String) {
        owner_workload(pod)
    }

    #[test]
    fn deployment_through_its_replica_set() {
        let pod = pod_owned_by(
            "web-7d9f8c-x2x",
            Some(("ReplicaSet", "web-frontend-7d9f8c")),
            Some("7d9f8c"),
        );
        assert_eq!(owner(&pod), ("web-frontend".into(), "Deployment".into()));
    }

    #[test]
    fn replica_set_without_a_deployment_is_itself() {
        let bare_rs = pod_owned_by("rs-abc", Some(("ReplicaSet", "legacy")), None);
        assert_eq!(owner(&bare_rs), ("legacy".into(), "ReplicaSet".into()));
        // A hash that is not the name's suffix does not invent a Deployment.
        let other = pod_owned_by("x", Some(("ReplicaSet", "legacy")), Some("zz"));
        assert_eq!(owner(&other), ("legacy".into(), "ReplicaSet".into()));
        // Nor does a name that is only the hash.
        let only = pod_owned_by("x", Some(("ReplicaSet", "-zz")), Some("zz"));
        assert_eq!(owner(&only), ("-zz".into(), "ReplicaSet".into()));
    }

    #[test]
    fn other_controllers_and_bare_pods() {
        for kind in ["StatefulSet", "DaemonSet", "Job"] {
            let pod = pod_owned_by("db-0", Some((kind, "db")), None);
            assert_eq!(owner(&pod), ("db".into(), kind.into()));
        }
        let bare = pod_owned_by("debug-shell", None, None);
        assert_eq!(owner(&bare), ("debug-shell".into(), "Pod".into()));
        // A non-controller owner reference does not count.
        let mut weak = pod_owned_by("p", Some(("StatefulSet", "db")), None);
        weak.metadata.owner_references.as_mut().unwrap()[0].controller = None;
        assert_eq!(owner(&weak), ("p".into(), "Pod".into()));
    }

    #[test]
    fn selectors() {
        let labels = BTreeMap::from([("app".into(), "web".into()), ("tier".into(), "fe".into())]);
        let select = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(selector_matches(&select(&[("app", "web")]), Some(&labels)));
        assert!(!selector_matches(&select(&[("app", "api")]), Some(&labels)));
        assert!(!selector_matches(
            &select(&[("app", "web"), ("x", "y")]),
            Some(&labels)
        ));
        assert!(!selector_matches(&select(&[]), Some(&labels)));
        assert!(!selector_matches(&select(&[("app", "web")]), None));
    }
}
