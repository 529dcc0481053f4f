//! Names and labels of the objects the operator creates.

use std::collections::BTreeMap;

/// `app.kubernetes.io/managed-by` value on every child; also the label
/// selector of the operator's watches on children.
pub const MANAGED_BY: &str = "coral-operator";
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=coral-operator";

/// Labels that select a colony's pods (stable: they are in selectors, which are immutable).
pub fn colony_selector_labels(colony_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "coral-colony".to_string(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            colony_name.to_string(),
        ),
    ])
}

/// All labels on a colony's children.
pub fn colony_labels(colony_name: &str) -> BTreeMap<String, String> {
    let mut labels = colony_selector_labels(colony_name);
    labels.insert("app.kubernetes.io/component".into(), "colony".into());
    labels.insert("app.kubernetes.io/part-of".into(), "coral".into());
    labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    labels
}

pub fn node_agent_selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/name".to_string(),
        "coral-node-agent".to_string(),
    )])
}

pub fn node_agent_labels() -> BTreeMap<String, String> {
    let mut labels = node_agent_selector_labels();
    labels.insert("app.kubernetes.io/component".into(), "node-agent".into());
    labels.insert("app.kubernetes.io/part-of".into(), "coral".into());
    labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    labels
}

/// Name of the StatefulSet/Deployment, Service and pods of a colony.
pub fn colony_workload_name(colony_name: &str) -> String {
    format!("{colony_name}-colony")
}

pub fn colony_config_name(colony_name: &str) -> String {
    format!("{colony_name}-colony-config")
}

/// The Secret with the colony's WireGuard keypair and enrollment token.
pub fn colony_keys_name(colony_name: &str) -> String {
    format!("{colony_name}-colony-keys")
}

pub const NODE_AGENT_NAME: &str = "coral-node-agent";

/// Labels that select a reef's pods.
pub fn reef_selector_labels(reef_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "coral-reef".to_string(),
        ),
        (
            "app.kubernetes.io/instance".to_string(),
            reef_name.to_string(),
        ),
    ])
}

/// All labels on a reef's children.
pub fn reef_labels(reef_name: &str) -> BTreeMap<String, String> {
    let mut labels = reef_selector_labels(reef_name);
    labels.insert("app.kubernetes.io/component".into(), "reef".into());
    labels.insert("app.kubernetes.io/part-of".into(), "coral".into());
    labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    labels
}

/// Deployment, Service and Ingress of a reef.
pub fn reef_workload_name(reef_name: &str) -> String {
    format!("{reef_name}-reef")
}

/// The Secret with the reef's token-signing key.
pub fn reef_signing_key_name(reef_name: &str) -> String {
    format!("{reef_name}-reef-signing-key")
}
