//! The colony's pods: a StatefulSet with a PVC for DuckDB, a Deployment for
//! ClickHouse. Pure builders.

use std::collections::BTreeMap;

use coral_crds::Colony;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, KeyToPath,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, SeccompProfile, SecretVolumeSource, SecurityContext, TCPSocketAction, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::CONNECT_PORT;
use super::config_file::{
    CLICKHOUSE_PASSWORD_FILE, CONFIG_DIR, CONFIG_KEY, DATA_DIR, KEYS_DIR, config_hash,
};
use crate::labels;

pub const CONFIG_HASH_ANNOTATION: &str = "coral.io/config-hash";
const DATA_VOLUME: &str = "data";
/// The distroless `nonroot` user of the colony image.
const NONROOT_UID: i64 = 65532;

/// The colony container and the volumes it needs (except a DuckDB PVC).
fn pod_template(colony: &Colony, image: &str, config_text: &str) -> PodTemplateSpec {
    let name = colony.name_any();
    let spec = &colony.spec;
    let mut volume_mounts = vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        },
        VolumeMount {
            name: "keys".into(),
            mount_path: KEYS_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        },
        VolumeMount {
            name: DATA_VOLUME.into(),
            mount_path: DATA_DIR.into(),
            ..Default::default()
        },
    ];
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: labels::colony_config_name(&name),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "keys".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(labels::colony_keys_name(&name)),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    if let Some(reference) = spec
        .storage
        .clickhouse
        .as_ref()
        .and_then(|ch| ch.password_secret_ref.as_ref())
    {
        let dir = CLICKHOUSE_PASSWORD_FILE
            .rsplit_once('/')
            .map(|(dir, _)| dir)
            .unwrap_or(CLICKHOUSE_PASSWORD_FILE);
        volume_mounts.push(VolumeMount {
            name: "clickhouse".into(),
            mount_path: dir.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "clickhouse".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(reference.name.clone()),
                items: Some(vec![KeyToPath {
                    key: reference.key.clone(),
                    path: "password".into(),
                    mode: None,
                    user: None,
                }]),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let mut ports = vec![
        port("connect", CONNECT_PORT, "TCP"),
        port("wireguard", spec.mesh.port, "UDP"),
    ];
    if spec.dashboard.enabled {
        ports.push(port("dashboard", spec.dashboard.port, "TCP"));
    }
    let container = Container {
        name: "colony".into(),
        image: Some(image.into()),
        args: Some(vec![
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_KEY}"),
        ]),
        ports: Some(ports),
        volume_mounts: Some(volume_mounts),
        resources: spec.resources.clone(),
        readiness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(CONNECT_PORT),
                host: None,
            }),
            period_seconds: Some(10),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            // The mesh's TUN device needs NET_ADMIN, and Kubernetes cannot
            // give a non-root process capabilities (that takes ambient ones),
            // so the colony runs as uid 0 holding NET_ADMIN and nothing else.
            run_as_user: Some(0),
            run_as_non_root: Some(false),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_ADMIN".into()]),
                drop: Some(vec!["ALL".into()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
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
            containers: vec![container],
            volumes: Some(volumes),
            // The distroless nonroot user by default (the colony container
            // overrides it for the TUN device); fsGroup keeps the data volume
            // (DuckDB file, WireGuard key) writable either way.
            security_context: Some(PodSecurityContext {
                run_as_user: Some(NONROOT_UID),
                run_as_group: Some(NONROOT_UID),
                fs_group: Some(NONROOT_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn port(name: &str, number: i32, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some(protocol.into()),
        ..Default::default()
    }
}

fn selector(colony_name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels::colony_selector_labels(colony_name)),
        match_expressions: None,
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
            selector: selector(&name),
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
        pod.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: DATA_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        });
    }
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: selector(&name),
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
