//! "Colony spec → desired children": pure, so it is unit-tested without a
//! cluster. Every child carries the colony's labels and a controller owner
//! reference, so garbage collection removes it with the Colony.

use std::collections::BTreeMap;

use coral_crds::Colony;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Secret, Service, ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use super::CONNECT_PORT;
use super::config_file::{self, CONFIG_KEY};
use super::{access, workload};
use crate::error::{Error, Result};
use crate::keys::ColonyKeys;
use crate::labels;

/// The pods' controller: which one depends on the storage backend.
#[derive(Clone, Debug, PartialEq)]
pub enum ColonyWorkload {
    StatefulSet(StatefulSet),
    Deployment(Deployment),
}

/// Everything a Colony should own.
#[derive(Clone, Debug, PartialEq)]
pub struct ColonyChildren {
    pub keys_secret: Secret,
    pub config_map: ConfigMap,
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    pub workload: ColonyWorkload,
    pub service: Service,
}

/// Builds the children of `colony` with the given key material.
pub fn build(colony: &Colony, keys: &ColonyKeys, default_image: &str) -> Result<ColonyChildren> {
    let name = colony.name_any();
    let namespace = colony
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let owner = colony
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))?;
    let meta = |object_name: String| ObjectMeta {
        name: Some(object_name),
        namespace: Some(namespace.clone()),
        labels: Some(labels::colony_labels(&name)),
        owner_references: Some(vec![owner.clone()]),
        ..Default::default()
    };
    let config_text = config_file::render(&colony.spec, &namespace, &name)?;
    let image = colony.spec.image.as_deref().unwrap_or(default_image);
    let workload_meta = meta(labels::colony_workload_name(&name));
    let workload = if colony.spec.storage.clickhouse.is_some() {
        ColonyWorkload::Deployment(workload::deployment(
            colony,
            workload_meta,
            image,
            &config_text,
        ))
    } else {
        ColonyWorkload::StatefulSet(workload::stateful_set(
            colony,
            workload_meta,
            image,
            &config_text,
        ))
    };
    Ok(ColonyChildren {
        keys_secret: Secret {
            metadata: meta(labels::colony_keys_name(&name)),
            type_: Some("Opaque".into()),
            data: Some(keys.to_secret_data()),
            ..Default::default()
        },
        config_map: ConfigMap {
            metadata: meta(labels::colony_config_name(&name)),
            data: Some(BTreeMap::from([(CONFIG_KEY.to_string(), config_text)])),
            ..Default::default()
        },
        // All three share the workload's name, which the pods run as.
        service_account: access::service_account(meta(labels::colony_workload_name(&name))),
        role: access::role(meta(labels::colony_workload_name(&name))),
        role_binding: access::role_binding(meta(labels::colony_workload_name(&name))),
        workload,
        service: service(colony, meta(labels::colony_workload_name(&name))),
    })
}

fn service(colony: &Colony, metadata: ObjectMeta) -> Service {
    let spec = &colony.spec;
    let mut ports = vec![
        service_port("connect", CONNECT_PORT, "TCP"),
        service_port("wireguard", spec.mesh.port, "UDP"),
    ];
    if spec.dashboard.enabled {
        ports.push(service_port("dashboard", spec.dashboard.port, "TCP"));
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::colony_selector_labels(&colony.name_any())),
            ports: Some(ports),
            ..Default::default()
        }),
        status: None,
    }
}

fn service_port(name: &str, port: i32, protocol: &str) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some(protocol.into()),
        target_port: Some(IntOrString::String(name.into())),
        ..Default::default()
    }
}

/// In-cluster connect endpoint, `host:port`.
pub fn endpoint(colony_name: &str, namespace: &str) -> String {
    format!(
        "{}.{namespace}.svc:{CONNECT_PORT}",
        labels::colony_workload_name(colony_name)
    )
}

/// The colony's own mesh address: host 1 of the IPv4 mesh network (none
/// when the CIDR is not a valid mesh network).
pub fn mesh_ipv4(cidr: &str) -> Option<String> {
    let network: coral_mesh_addressing::MeshIpv4Cidr = cidr.parse().ok()?;
    Some(network.host(1).to_string())
}

#[cfg(test)]
#[path = "desired_tests.rs"]
mod tests;
