//! The colony pod's own identity and what it may read: a ServiceAccount
//! and a Role in the Colony's namespace, enough for the component
//! inventory (Connections, their pods and workloads) and nothing more.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Read-only watches, as the colony's inventory makes them.
fn read(api_group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![api_group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: vec!["get".into(), "list".into(), "watch".into()],
        ..Default::default()
    }
}

pub fn service_account(metadata: ObjectMeta) -> ServiceAccount {
    ServiceAccount {
        metadata,
        ..Default::default()
    }
}

pub fn role(metadata: ObjectMeta) -> Role {
    Role {
        metadata,
        rules: Some(vec![
            read("coral.io", &["connections"]),
            read("", &["pods"]),
            read("apps", &["deployments", "statefulsets", "daemonsets"]),
        ]),
    }
}

/// Binds the Role of the same name to the ServiceAccount of the same name.
pub fn role_binding(metadata: ObjectMeta) -> RoleBinding {
    let name = metadata.name.clone().unwrap_or_default();
    RoleBinding {
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: metadata.namespace.clone(),
            api_group: None,
        }]),
        metadata,
    }
}
