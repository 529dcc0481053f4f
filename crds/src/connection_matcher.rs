//! Which pods a Connection selects: in its own namespace, the pods of its
//! `workloadRef`, or those its label selector matches. The colony's
//! component inventory and the node-agent's per-colony scoping both ask, so
//! the rule lives with the type.

use coral_workloads::owner_workload;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use crate::Connection;

/// A Connection's pod rule, compiled once for matching many pods.
#[derive(Clone, Debug)]
pub struct PodMatcher {
    namespace: String,
    rule: Rule,
}

#[derive(Clone, Debug)]
enum Rule {
    /// `(name, kind)` of the referenced workload.
    Workload(String, String),
    Labels(Selector),
    /// No usable selector: the operator reports it on the Connection.
    Nothing,
}

impl Connection {
    /// `namespace/name` of the Colony this Connection reports to (Colonies
    /// are referenced in the Connection's own namespace).
    pub fn colony_key(&self) -> String {
        format!(
            "{}/{}",
            self.namespace().unwrap_or_default(),
            self.spec.colony_ref.name
        )
    }

    pub fn pod_matcher(&self) -> PodMatcher {
        let rule = if let Some(reference) = &self.spec.workload_ref {
            Rule::Workload(reference.name.clone(), reference.kind.as_str().to_owned())
        } else {
            self.spec
                .selector
                .clone()
                .and_then(|selector| Selector::try_from(selector).ok())
                .map_or(Rule::Nothing, Rule::Labels)
        };
        PodMatcher {
            namespace: self.namespace().unwrap_or_default(),
            rule,
        }
    }
}

impl PodMatcher {
    pub fn matches(&self, pod: &Pod) -> bool {
        if pod.metadata.namespace.as_deref() != Some(self.namespace.as_str()) {
            return false;
        }
        match &self.rule {
            Rule::Workload(name, kind) => {
                let (pod_workload, pod_kind) = owner_workload(pod);
                pod_workload == *name && pod_kind == *kind
            }
            Rule::Labels(selector) => selector.matches(pod.labels()),
            Rule::Nothing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(spec: serde_json::Value) -> Connection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "coral.io/v1alpha1",
            "kind": "Connection",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn pod(namespace: &str, labels: serde_json::Value, owner: Option<&str>) -> Pod {
        let owners = owner.map(|name| {
            serde_json::json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": "u", "controller": true}])
        });
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": namespace, "labels": labels, "ownerReferences": owners},
        }))
        .unwrap()
    }

    #[test]
    fn selector_matches_labels_and_expressions_in_its_namespace_only() {
        let by_labels = connection(serde_json::json!({
            "colonyRef": {"name": "shop-colony"},
            "component": "api",
            "selector": {
                "matchLabels": {"app": "api"},
                "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}],
            },
        }));
        assert_eq!(by_labels.colony_key(), "shop/shop-colony");
        let matcher = by_labels.pod_matcher();
        assert!(matcher.matches(&pod("shop", serde_json::json!({"app": "api"}), None)));
        assert!(!matcher.matches(&pod(
            "shop",
            serde_json::json!({"app": "api", "track": "canary"}),
            None
        )));
        assert!(!matcher.matches(&pod("other", serde_json::json!({"app": "api"}), None)));
        assert!(!matcher.matches(&pod("shop", serde_json::json!({"app": "web"}), None)));
    }

    #[test]
    fn workload_reference_matches_the_owner() {
        let by_workload = connection(serde_json::json!({
            "colonyRef": {"name": "c"},
            "component": "db",
            "workloadRef": {"kind": "StatefulSet", "name": "database"},
        }));
        let matcher = by_workload.pod_matcher();
        assert!(matcher.matches(&pod("shop", serde_json::json!({}), Some("database"))));
        assert!(!matcher.matches(&pod("shop", serde_json::json!({}), Some("cache"))));
        assert!(!matcher.matches(&pod("shop", serde_json::json!({}), None)));
    }
}
