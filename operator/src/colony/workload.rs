//! The colony's pods: a StatefulSet with a PVC for DuckDB, a Deployment for
//! ClickHouse. Pure builders.

use std::collections::BTreeMap;

use coral_crds::Colony;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
    PodSpec, PodTemplateSpec, SeccompProfile, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::CONNECT_PORT;
use super::config_file::{
    CLICKHOUSE_PASSWORD_FILE, CONFIG_DIR, CONFIG_KEY, DATA_DIR, KEYS_DIR, config_hash,
};
use crate::labels;
use crate::pod_spec::{
    OWNER_READ_ONLY, config_map_volume, container_port, empty_dir_volume, locked_down,
    match_labels, mount, only_capabilities, secret_key_volume, secret_volume, tcp_probe,
};

pub const CONFIG_HASH_ANNOTATION: &str = "coral.io/config-hash";
const DATA_VOLUME: &str = "data";
/// The distroless `nonroot` user of the colony image.
const NONROOT_UID: i64 = 65532;

/// The colony pod: its container, the volumes it mounts (except the data
/// volume, which the StatefulSet claims and the Deployment adds) and the
/// config hash that rolls it when `colony.yaml` changes.
fn pod_template(colony: &Colony, image: &str, config_text: &str) -> PodTemplateSpec {
    let name = colony.name_any();
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels::colony_labels(&name)),
            annotations: Some(BTreeMap::from([(
                CONFIG_HASH_ANNOTATION.to_string(),
                config_hash(config_text),
            )])),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            // Its Role lets the colony watch what its Connections select.
            service_account_name: Some(labels::colony_workload_name(&name)),
            containers: vec![container(colony, image)],
            volumes: Some(volumes(colony)),
            security_context: Some(pod_security_context()),
            ..Default::default()
        }),
    }
}

fn container(colony: &Colony, image: &str) -> Container {
    Container {
        name: "colony".into(),
        image: Some(image.into()),
        args: Some(vec![
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_KEY}"),
        ]),
        ports: Some(ports(colony)),
        volume_mounts: Some(volume_mounts(colony)),
        resources: colony.spec.resources.clone(),
        readiness_probe: Some(tcp_probe(CONNECT_PORT, 10)),
        security_context: Some(container_security_context()),
        ..Default::default()
    }
}

fn ports(colony: &Colony) -> Vec<ContainerPort> {
    let spec = &colony.spec;
    let mut ports = vec![
        container_port("connect", CONNECT_PORT, "TCP"),
        container_port("wireguard", spec.mesh.port, "UDP"),
    ];
    if spec.dashboard.enabled {
        ports.push(container_port("dashboard", spec.dashboard.port, "TCP"));
    }
    ports
}

fn volume_mounts(colony: &Colony) -> Vec<VolumeMount> {
    let mut mounts = vec![
        mount("config", CONFIG_DIR, true),
        mount("keys", KEYS_DIR, true),
        mount(DATA_VOLUME, DATA_DIR, false),
    ];
    if let Some((password_mount, _)) = clickhouse_password(colony) {
        mounts.push(password_mount);
    }
    mounts
}

fn volumes(colony: &Colony) -> Vec<Volume> {
    let name = colony.name_any();
    let mut volumes = vec![
        config_map_volume("config", &labels::colony_config_name(&name)),
        secret_volume(
            "keys",
            &labels::colony_keys_name(&name),
            Some(OWNER_READ_ONLY),
        ),
    ];
    if let Some((_, password_volume)) = clickhouse_password(colony) {
        volumes.push(password_volume);
    }
    volumes
}

/// The mount and volume of the ClickHouse password, when the Colony names
/// a Secret key for it: the file `colony.yaml` points to.
fn clickhouse_password(colony: &Colony) -> Option<(VolumeMount, Volume)> {
    let reference = colony
        .spec
        .storage
        .clickhouse
        .as_ref()?
        .password_secret_ref
        .as_ref()?;
    let dir = CLICKHOUSE_PASSWORD_FILE
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .unwrap_or(CLICKHOUSE_PASSWORD_FILE);
    Some((
        mount("clickhouse", dir, true),
        secret_key_volume(
            "clickhouse",
            &reference.name,
            &reference.key,
            "password",
            Some(OWNER_READ_ONLY),
        ),
    ))
}

/// The mesh's TUN device needs NET_ADMIN, and Kubernetes cannot give a
/// non-root process capabilities (that takes ambient ones), so the colony
/// runs as uid 0 holding NET_ADMIN and nothing else.
fn container_security_context() -> SecurityContext {
    SecurityContext {
        run_as_user: Some(0),
        run_as_non_root: Some(false),
        capabilities: Some(only_capabilities(["NET_ADMIN"])),
        ..locked_down()
    }
}

/// The distroless nonroot user by default (the colony container overrides
/// it for the TUN device); fsGroup keeps the data volume (DuckDB file,
/// WireGuard key) writable either way.
fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(NONROOT_UID),
        run_as_group: Some(NONROOT_UID),
        fs_group: Some(NONROOT_UID),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// DuckDB: one replica with its database on a PersistentVolumeClaim.
pub fn stateful_set(
    colony: &Colony,
    metadata: ObjectMeta,
    image: &str,
    config_text: &str,
) -> StatefulSet {
    let name = colony.name_any();
    let duckdb = colony.spec.storage.duckdb.clone().unwrap_or_default();
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: duckdb.storage_class_name,
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(duckdb.size),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    };
    StatefulSet {
        metadata,
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(labels::colony_workload_name(&name)),
            selector: match_labels(labels::colony_selector_labels(&name)),
            template: pod_template(colony, image, config_text),
            volume_claim_templates: Some(vec![claim]),
            ..Default::default()
        },
        status: None,
    }
}

/// ClickHouse: stateless pod (scratch space only), replaced on update.
pub fn deployment(
    colony: &Colony,
    metadata: ObjectMeta,
    image: &str,
    config_text: &str,
) -> Deployment {
    let name = colony.name_any();
    let mut template = pod_template(colony, image, config_text);
    if let Some(pod) = template.spec.as_mut() {
        pod.volumes
            .get_or_insert_with(Vec::new)
            .push(empty_dir_volume(DATA_VOLUME));
    }
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: match_labels(labels::colony_selector_labels(&name)),
            // One mesh hub at a time: the old pod goes before the new one starts.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template,
            ..Default::default()
        },
        status: None,
    }
}
